"""``cdp query`` and ``cdp explain``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli import options, state
from cli.errors import guarded

_FILE = typer.Option(None, "-f", "--file", help="Read the query from FILE ('-' for stdin).")
_PARAM = typer.Option(None, "--param", "-p", metavar="NAME=VALUE",
                      help="Value for :NAME in the query (repeatable). 12, 1.5, true, null are typed; else text.")
_DIALECT = typer.Option("postgres", "--dialect", help="SQL dialect of the query (any sqlglot dialect).")


@guarded
def query(
    sql: Optional[str] = typer.Argument(None, help="The SQL query (PostgreSQL flavour by default)."),
    file: Optional[Path] = _FILE,
    fmt: str = typer.Option("table", "--format", help="table | csv | json | jsonl | parquet | arrow"),
    out_path: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to PATH instead of stdout."),
    param: Optional[list[str]] = _PARAM,
    dialect: str = _DIALECT,
    no_pushdown: bool = typer.Option(False, "--no-pushdown", hidden=True,
                                     help="Fetch whole tables and do all work in Arrow (debugging)."),
    workspace: Optional[Path] = options.WORKSPACE,
    verbose: bool = options.VERBOSE,
    engine: Optional[str] = options.ENGINE,
    remote: Optional[str] = options.REMOTE,
) -> None:
    """Run a SQL query over the workspace's sources and print the answer.

    Example: cdp query "SELECT country, count(*) FROM shop.customers GROUP BY 1" --format csv
    """
    state.override(workspace, verbose).use_engine(engine, remote)
    from cli import inputs, output

    fmt = output.check_format(fmt)
    text = inputs.read_sql(sql, file)
    params = inputs.parse_params(param)
    dialect = inputs.check_dialect(dialect)
    ws = state.current.workspace()
    if no_pushdown or fmt == "table":
        reader = ws.query(text, params=params, dialect=dialect, pushdown=not no_pushdown).to_reader()
    else:
        reader = ws.query_batches(text, params=params, dialect=dialect)
    output.write(reader, fmt, out_path)


@guarded
def explain(
    sql: Optional[str] = typer.Argument(None, help="The SQL query to plan."),
    file: Optional[Path] = _FILE,
    analyze: bool = typer.Option(False, "--analyze", help="Also run the query; report rows, bytes and seconds."),
    fmt: str = typer.Option("text", "--format", help="text | json"),
    param: Optional[list[str]] = _PARAM,
    dialect: str = _DIALECT,
    workspace: Optional[Path] = options.WORKSPACE,
    verbose: bool = options.VERBOSE,
    engine: Optional[str] = options.ENGINE,
    remote: Optional[str] = options.REMOTE,
) -> None:
    """Show what each source receives (native SQL or HTTP request) and what runs in Arrow.

    Example: cdp explain "SELECT * FROM shop.customers WHERE country = 'DE'" --format json
    """
    state.override(workspace, verbose).use_engine(engine, remote)
    import json

    from cli import inputs, output
    from cli.errors import scrub

    fmt = output.check_format(fmt, ("text", "json"))
    text = inputs.read_sql(sql, file)
    params = inputs.parse_params(param)
    dialect = inputs.check_dialect(dialect)
    doc = state.current.workspace().explain(text, params=params, analyze=analyze, dialect=dialect)
    if fmt == "json":
        typer.echo(scrub(json.dumps(doc, indent=2, default=str)))
    else:
        from federation.engines import explain_text
        from federation.explain import render_text

        typer.echo(scrub(render_text(doc) + explain_text(doc)))
