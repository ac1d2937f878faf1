"""``cdp sources list|check|describe``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from cli import options, state
from cli.errors import guarded, scrub

app = typer.Typer(help="The workspace's sources: list them, check connectivity, describe tables.",
                  no_args_is_help=True, rich_markup_mode=None)
_FORMAT = typer.Option("table", "--format", help="table | json")


def _emit_json(doc: Any) -> None:
    typer.echo(scrub(json.dumps(doc, indent=2, default=str)))


def _emit_table(columns: list[str], rows: list[list[Any]]) -> None:
    import pyarrow as pa

    from cli import output

    table = pa.table({c: pa.array([("" if r[i] is None else str(r[i])) for r in rows], pa.string())
                      for i, c in enumerate(columns)})
    typer.echo(scrub(output.plain_table(table)), nl=False)


@app.command("list")
@guarded
def list_sources(
    fmt: str = _FORMAT,
    workspace: Optional[Path] = options.WORKSPACE,
    verbose: bool = options.VERBOSE,
) -> None:
    """Every source: name, type, options (secrets shown as [secure]) and where it is defined."""
    state.override(workspace, verbose)
    from cli.output import check_format

    fmt = check_format(fmt, ("table", "json"))
    ws = state.current.workspace()
    infos = [ws.source_info(n) for n in ws.source_names()]
    if fmt == "json":
        return _emit_json(infos)
    rows = [[i["name"], i["type"], _options_text(i["options"]), i["location"]] for i in infos]
    _emit_table(["name", "type", "options", "defined at"], rows)


def _options_text(options: dict[str, Any]) -> str:
    shown = {k: v for k, v in options.items() if k not in ("type", "description")}
    return " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in shown.items())


@app.command("check")
@guarded
def check(
    names: Optional[list[str]] = typer.Argument(None, help="Sources to check (default: all)."),
    workspace: Optional[Path] = options.WORKSPACE,
    verbose: bool = options.VERBOSE,
) -> None:
    """Connect to each source and check access. Exit 3 when any failed, naming them."""
    state.override(workspace, verbose)
    ws = state.current.workspace()
    failed = []
    for name in names or ws.source_names():
        r = ws.check_source(name)
        status = "ok" if r["ok"] else "failed"
        line = f"{name:<20} {status:<7} {r['seconds']:.3f} s"
        if not r["ok"]:
            failed.append(name)
            line += "  " + (r["error"] or "").replace("\n", "\n" + " " * 22)
        typer.echo(scrub(line))
    if failed:
        from federation.errors import CdpError

        class ChecksFailed(CdpError):
            exit_code = 3  # a source failed (SPEC exit codes)

        n = len(failed)
        raise ChecksFailed(f"{n} source{'s' if n != 1 else ''} failed: {', '.join(failed)}",
                           hint="Each failure is shown above; fix its settings or start the source, then rerun `cdp sources check`.")


def _table_doc(source: str, info: Any) -> dict[str, Any]:
    return {
        "source": source,
        "table": info.name,
        "native_name": info.native_name,
        "row_estimate": info.row_estimate,
        "description": info.description,
        "columns": [{"name": c.name, "type": str(c.type), "nullable": c.nullable, "native_name": c.native_name}
                    for c in info.columns],
    }


@app.command("describe")
@guarded
def describe(
    name: Optional[str] = typer.Argument(None, help="The source (default: all)."),
    table: Optional[str] = typer.Option(None, "--table", "-t", help="Only this table."),
    fmt: str = _FORMAT,
    workspace: Optional[Path] = options.WORKSPACE,
    verbose: bool = options.VERBOSE,
) -> None:
    """Tables of a source with their columns and Arrow types."""
    state.override(workspace, verbose)
    from cli.output import check_format
    from federation.errors import UsageError

    fmt = check_format(fmt, ("table", "json"))
    ws = state.current.workspace()
    if table is not None and name is None:
        raise UsageError("--table needs a source name", hint="Example: cdp sources describe shop --table customers")
    docs = [_table_doc(src, t) for src in ([name] if name else ws.source_names())
            for t in ws.describe_source(src, table)]
    if fmt == "json":
        return _emit_json(docs)
    for i, d in enumerate(docs):
        rows_note = f"  (~{d['row_estimate']} rows)" if d["row_estimate"] is not None else ""
        typer.echo(("\n" if i else "") + f"{d['source']}.{d['table']}{rows_note}")
        _emit_table(["column", "type", "nullable"],
                    [[c["name"], c["type"], "yes" if c["nullable"] else "no"] for c in d["columns"]])
