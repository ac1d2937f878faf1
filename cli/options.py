"""Options every command accepts after its name too: ``cdp demo --workspace configs``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

WORKSPACE: Optional[Path] = typer.Option(
    None, "--workspace", "-w", metavar="DIR", help="Workspace folder (default: $CDP_WORKSPACE, else ./configs).")
VERBOSE: bool = typer.Option(False, "--verbose", "-v", help="Print tracebacks and more detail.")
ENGINE: Optional[str] = typer.Option(
    None, "--engine", help="local | spark (default: the workspace's engine section, else local).")
REMOTE: Optional[str] = typer.Option(None, "--remote", metavar="URL", help="Spark Connect address, sc://host:port.")
