"""The ``cdp`` command.

    cdp [--workspace DIR] [--verbose] COMMAND

Start-up stays light: this module imports only typer and the small cli helpers.
pyarrow, sqlglot, httpx, rich and the workspace are imported inside commands, so
``cdp --help`` answers in a fraction of a second (tests/cli/test_startup.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli import state
from cli.commands import demo as demo_cmd
from cli.commands import query as query_cmd
from cli.commands import sources as sources_cmd

HELP = """fedcdp: query customer data where it lives.

Declare sources in YAML (the workspace), then query them together in SQL.
The workspace is --workspace DIR, else $CDP_WORKSPACE, else ./configs.

Exit codes: 0 ok, 1 user error (bad YAML/SQL, unknown name), 2 usage, 3 a source failed.
"""

app = typer.Typer(name="cdp", help=HELP, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Optional[Path] = typer.Option(None, "--workspace", "-w", metavar="DIR",
                                             help="Workspace folder (default: $CDP_WORKSPACE, else ./configs)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print tracebacks and more detail."),
    engine: Optional[str] = typer.Option(None, "--engine", help="local | spark (default: the workspace's engine section, else local)."),
    remote: Optional[str] = typer.Option(None, "--remote", metavar="URL", help="Spark Connect address, sc://host:port."),
) -> None:
    # sub-apps mounted here (e.g. models.cli) find the workspace through ctx.obj.workspace()
    ctx.obj = state.reset(workspace, verbose)
    ctx.obj.use_engine(engine, remote)


app.command("query")(query_cmd.query)
app.command("explain")(query_cmd.explain)
app.add_typer(sources_cmd.app, name="sources")
app.command("demo")(demo_cmd.demo)


def _mount_model_commands() -> None:
    # typer sub-apps of the model, segments and audiences; importing them loads
    # no pyarrow, sqlglot, httpx or rich (tests/cli/test_startup.py)
    from cli import audience_cmd, segment_cmd
    from models.cli import configure as configure_model
    from models.cli import model_app

    configure_model(lambda: state.current.workspace())
    app.add_typer(model_app, name="model")
    app.add_typer(segment_cmd.app, name="segment")
    app.add_typer(audience_cmd.app, name="audience")


_mount_model_commands()


def main() -> None:
    """Console-script entry point (pyproject: ``cdp = "cli.main:main"``)."""
    app(prog_name="cdp")


if __name__ == "__main__":
    main()
