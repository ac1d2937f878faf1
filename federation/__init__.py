"""fedcdp's one import root for users.

>>> from federation import Workspace
>>> ws = Workspace.load("configs")
>>> ws.query("SELECT 1 AS x")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from federation.errors import (
    CdpError,
    ConfigError,
    NotReadOnlyError,
    QueryError,
    SourceError,
    UnsupportedError,
    UsageError,
    UserError,
)

if TYPE_CHECKING:
    from federation.workspace import Workspace

__all__ = [
    "CdpError", "ConfigError", "NotReadOnlyError", "QueryError", "SourceError",
    "UnsupportedError", "UsageError", "UserError", "Workspace",
]


def __getattr__(name: str) -> Any:
    # Lazy: `cdp --help` must not import sqlglot or pyarrow.
    if name == "Workspace":
        from federation.workspace import Workspace

        return Workspace
    raise AttributeError(name)
