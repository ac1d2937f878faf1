"""``cdp demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli import options, state
from cli.errors import guarded


@guarded
def demo(
    rebuild: bool = typer.Option(False, "--rebuild", help="Regenerate the demo data even if it exists."),
    crm: bool = typer.Option(True, "--crm/--no-crm", help="Start the HubSpot emulator and add it as source 'crm'."),
    workspace: Optional[Path] = options.WORKSPACE,
    verbose: bool = options.VERBOSE,
) -> None:
    """Build the demo data (SQLite, hive-partitioned Parquet, CSV) if missing and run sample
    segment queries, showing what each source received and the answers. No network needed.

    Example: cdp demo --workspace configs
    """
    state.override(workspace, verbose)
    from cli import demo as runner
    from federation.config.load import resolve_workspace_dir

    runner.run(resolve_workspace_dir(state.current.workspace_dir), rebuild=rebuild, with_crm=crm)
