"""What the root options (--workspace, --verbose) leave for the commands.

One small object per invocation, so typer's CliRunner can run many commands in
one process. The workspace is loaded on first use: ``cdp --help`` and usage
errors never touch the YAML, sqlglot or pyarrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from federation.workspace import Workspace


@dataclass
class State:
    workspace_dir: Path | None = None
    verbose: bool = False
    engine: str | None = None  # --engine / --remote: where queries run (default: the YAML's, else local)
    remote: str | None = None
    _workspace: Any = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        """The loaded workspace (--workspace, else $CDP_WORKSPACE, else ./configs)."""
        if self._workspace is None:
            from federation.workspace import Workspace

            self._workspace = Workspace.load(self.workspace_dir)
            self._apply_engine()
        return self._workspace

    def use_engine(self, engine: str | None, remote: str | None) -> None:
        if engine is not None:
            self.engine = engine
        if remote is not None:
            self.remote = remote
        if self._workspace is not None:
            self._apply_engine()

    def _apply_engine(self) -> None:
        if self.engine is not None or self.remote is not None:
            from federation.engines import apply_engine_choice

            apply_engine_choice(self._workspace, self.engine, self.remote)

    def loaded(self) -> Workspace | None:
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None


# The state of the command being run; the root callback replaces it each time.
current = State()


def reset(workspace_dir: Path | None, verbose: bool) -> State:
    global current
    current.close()
    current = State(workspace_dir, verbose)
    return current


def override(workspace_dir: Path | None, verbose: bool) -> State:
    """--workspace / --verbose given after the command (``cdp demo --workspace configs``)."""
    if workspace_dir is not None:
        current.workspace_dir = workspace_dir
    if verbose:
        current.verbose = True
    return current
