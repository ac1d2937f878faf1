"""`cdp segment|audience` mounted on a tiny root app (cli/main.py mounts them for real)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli import audience_cmd, segment_cmd, state

app = typer.Typer(rich_markup_mode=None)


@app.callback()
def root(workspace: Optional[Path] = typer.Option(None, "--workspace"), verbose: bool = False) -> None:
    state.reset(workspace, verbose)


app.add_typer(segment_cmd.app, name="segment")
app.add_typer(audience_cmd.app, name="audience")

if __name__ == "__main__":
    app()
