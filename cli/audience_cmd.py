"""``cdp audience list|preview|export|sync`` (mounted by cli/main.py as ``cdp audience``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from cli import state
from cli.errors import guarded, scrub
from cli.options import ENGINE, REMOTE
from cli.segment_cmd import AS_OF, emit_json, emit_table

app = typer.Typer(help="Audiences: a segment plus fields, a key and a destination; preview, export, sync.",
                  no_args_is_help=True, rich_markup_mode=None)
QUIET = typer.Option(False, "--quiet", "-q", help="No progress display.")


def _audience(name: str, as_of: Optional[str]) -> Any:
    from models.audiences import get_audience

    return get_audience(state.current.workspace(), name, as_of)


@app.command("list")
@guarded
def list_cmd(fmt: str = typer.Option("table", "--format", help="table | json")) -> None:
    """Every audience: name, segment, destination type, default mode."""
    from cli.output import check_format
    from models.audiences import list_audiences

    fmt = check_format(fmt, ("table", "json"))
    rows = list_audiences(state.current.workspace())
    if fmt == "json":
        return emit_json(rows)
    emit_table(["name", "segment", "destination", "mode", "description"],
               [[r["name"], r["segment"], r["destination"], r["mode"], r["description"]] for r in rows])


@app.command("preview")
@guarded
def preview(name: str = typer.Argument(..., help="The audience."), as_of: Optional[str] = AS_OF, engine: Optional[str] = ENGINE, remote: Optional[str] = REMOTE,
            sample: int = typer.Option(10, "--sample", help="How many rows to show."),
            fmt: str = typer.Option("table", "--format", help="table | json")) -> None:
    """Counts (members, exported, excluded for lack of consent, without a key) and a sample."""
    state.current.use_engine(engine, remote)
    from cli.output import check_format

    fmt = check_format(fmt, ("table", "json"))
    doc = _audience(name, as_of).preview(sample)
    if fmt == "json":
        return emit_json(doc)
    typer.echo(f"audience {doc['audience']} (segment {doc['segment']}, as of {doc['as_of']})")
    typer.echo(f"  members: {doc['members']}  exported: {doc['exported']}  "
               f"excluded without consent: {doc['excluded_without_consent']}  without a key: {doc['no_key']}")
    if doc["hashed_pii"]:
        typer.echo(f"  hashed (SHA-256): {', '.join(doc['hashed_pii'])}")
    if doc["sample"]:
        cols = list(doc["sample"][0])
        emit_table(cols, [[r.get(c) for c in cols] for r in doc["sample"]])


@app.command("export")
@guarded
def export(
    name: str = typer.Argument(..., help="The audience."),
    as_of: Optional[str] = AS_OF, engine: Optional[str] = ENGINE, remote: Optional[str] = REMOTE,
    fmt: Optional[str] = typer.Option(None, "--format",
                                      help="table | csv | json | jsonl | parquet | arrow (default: table; arrow with --output -)"),
    out_path: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to PATH; '-' streams to stdout."),
    quiet: bool = QUIET,
) -> None:
    """Stream the audience's records (consent applied, PII hashed as the destination asks)."""
    state.current.use_engine(engine, remote)
    from cli import output

    if fmt is None:
        fmt = "arrow" if out_path is not None and str(out_path) == "-" else "table"
    fmt = output.check_format(fmt)
    aud = _audience(name, as_of)
    with SyncProgress(f"export {name}", quiet=quiet or out_path is None or str(out_path) == "-") as prog:
        reader = _reader(aud, prog)
        output.write(reader, fmt, out_path)


def _reader(aud: Any, prog: Any) -> Any:
    import pyarrow as pa

    it = aud.batches()
    first = next(it, None)
    schema = first.schema if first is not None else aud.schema()

    def gen() -> Any:
        if first is not None:
            prog.rows(first.num_rows)
            yield first
        for b in it:
            prog.rows(b.num_rows)
            yield b.cast(schema) if b.schema != schema else b

    return pa.RecordBatchReader.from_batches(schema, gen())


@app.command("sync")
@guarded
def sync(
    name: str = typer.Argument(..., help="The audience."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be added, changed and removed; send nothing."),
    full_resync: bool = typer.Option(False, "--full-resync", help="Send every member again (state is kept)."),
    mode: Optional[str] = typer.Option(None, "--mode", help="full | incremental | mirror (default: the audience's)"),
    as_of: Optional[str] = AS_OF, engine: Optional[str] = ENGINE, remote: Optional[str] = REMOTE,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Records per request."),
    fmt: str = typer.Option("text", "--format", help="text | json"),
    quiet: bool = QUIET,
) -> None:
    """Deliver the audience to its destination; print a summary (the JSON log is kept in .cdp/state)."""
    state.current.use_engine(engine, remote)
    from cli.output import check_format
    from federation.sync.runner import run_sync

    fmt = check_format(fmt, ("text", "json"))
    if mode is not None:
        from federation.errors import UsageError, did_you_mean
        from models.audiences import MODES

        if mode not in MODES:
            raise UsageError(f"unknown --mode '{mode}'", hint=did_you_mean(mode, list(MODES)) or f"Modes: {', '.join(MODES)}.")
    ws = state.current.workspace()
    with SyncProgress(f"sync {name}", quiet=quiet) as prog:
        log = run_sync(ws, name, mode=mode, dry_run=dry_run, full_resync=full_resync, as_of=as_of,
                       batch_size=batch_size, progress=prog)
    if fmt == "json":
        return emit_json(log.as_dict() | {"log": log.path})
    typer.echo(scrub(log.summary()))
    if dry_run:
        for op in ("add", "change", "remove"):
            rows = log.sample.get(op) or []
            if rows:
                typer.echo(f"  sample to {op}:")
                cols = list(rows[0])
                emit_table(cols, [[r.get(c) for c in cols] for r in rows])
    if log.counts.get("failed"):
        print(f"{log.counts['failed']} records failed; see the log", file=sys.stderr)

class SyncProgress:
    """Counts rows read and records sent; draws a rich progress line on stderr."""

    def __init__(self, title: str, quiet: bool = False) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self._p: Any = None
        self.title = title

    def __enter__(self) -> SyncProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._p = Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,}"),
                               TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._p.start()
            self._read = self._p.add_task(f"{self.title}: rows read", total=None)
            self._sent = self._p.add_task(f"{self.title}: records sent", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.stop()

    def rows(self, n: int) -> None:
        if self._p is not None:
            self._p.advance(self._read, n)

    def sent(self, n: int) -> None:
        if self._p is not None:
            self._p.advance(self._sent, n)
