"""``cdp segment list|show|run|count`` (mounted by cli/main.py as ``cdp segment``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from cli import state
from cli.errors import guarded, scrub
from cli.options import ENGINE, REMOTE

app = typer.Typer(help="Segments: named sets of customers (YAML conditions or .sql files).",
                  no_args_is_help=True, rich_markup_mode=None)
AS_OF = typer.Option(None, "--as-of", metavar="WHEN",
                     help="Evaluate relative dates at WHEN (2026-01-31, 2026-01-31T10:00:00) instead of now.")


def emit_json(doc: Any) -> None:
    typer.echo(scrub(json.dumps(doc, indent=2, default=str)))


def emit_table(columns: list[str], rows: list[list[Any]]) -> None:
    import pyarrow as pa

    from cli import output

    table = pa.table({c: pa.array([("" if r[i] is None else str(r[i])) for r in rows], pa.string())
                      for i, c in enumerate(columns)})
    typer.echo(scrub(output.plain_table(table)), nl=False)


@app.command("list")
@guarded
def list_cmd(fmt: str = typer.Option("table", "--format", help="table | json")) -> None:
    """Every segment: name, kind (yaml or sql), description, where it is defined."""
    from cli.output import check_format
    from models.segments import list_segments

    fmt = check_format(fmt, ("table", "json"))
    rows = list_segments(state.current.workspace())
    if fmt == "json":
        return emit_json(rows)
    emit_table(["name", "kind", "description", "defined at"],
               [[r["name"], r["kind"], r["description"], r["defined_at"]] for r in rows])


@app.command("show")
@guarded
def show(name: str = typer.Argument(..., help="The segment."), as_of: Optional[str] = AS_OF, engine: Optional[str] = ENGINE, remote: Optional[str] = REMOTE,
         fmt: str = typer.Option("text", "--format", help="text | json")) -> None:
    """The compiled SQL and the plan (what each source receives, what runs in Arrow)."""
    state.current.use_engine(engine, remote)
    from cli.output import check_format

    fmt = check_format(fmt, ("text", "json"))
    seg = state.current.workspace().segment(name) if as_of is None else _segment(name, as_of)
    plan = seg.explain()
    if fmt == "json":
        return emit_json({"segment": name, "key": seg.key, "as_of": seg.as_of.isoformat(), "sql": seg.sql, "plan": plan})
    from federation.explain import render_text

    typer.echo(f"-- segment {name} (key {seg.key}, as of {seg.as_of.isoformat()})")
    typer.echo(scrub(seg.pretty_sql()))
    typer.echo("")
    typer.echo(scrub(render_text(plan)))


def _segment(name: str, as_of: Optional[str]) -> Any:
    from models.segments import get_segment

    return get_segment(state.current.workspace(), name, as_of)


@app.command("run")
@guarded
def run(
    name: str = typer.Argument(..., help="The segment."),
    as_of: Optional[str] = AS_OF, engine: Optional[str] = ENGINE, remote: Optional[str] = REMOTE,
    fmt: str = typer.Option("table", "--format", help="table | csv | json | jsonl | parquet | arrow"),
    out_path: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to PATH instead of stdout ('-')."),
) -> None:
    """Run the segment and print its members (formats as `cdp query`)."""
    state.current.use_engine(engine, remote)
    from cli import output

    fmt = output.check_format(fmt)
    seg = _segment(name, as_of)
    reader = seg.run().to_reader() if fmt == "table" else seg.batches()
    output.write(reader, fmt, out_path)


@app.command("count")
@guarded
def count(name: str = typer.Argument(..., help="The segment."), as_of: Optional[str] = AS_OF, engine: Optional[str] = ENGINE, remote: Optional[str] = REMOTE,
          fmt: str = typer.Option("text", "--format", help="text | json")) -> None:
    """How many members the segment has now (or --as-of)."""
    state.current.use_engine(engine, remote)
    from cli.output import check_format

    fmt = check_format(fmt, ("text", "json"))
    seg = _segment(name, as_of)
    n = seg.count()
    if fmt == "json":
        return emit_json({"segment": name, "as_of": seg.as_of.isoformat(), "count": n})
    typer.echo(str(n))
