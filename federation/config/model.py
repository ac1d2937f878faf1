"""Resolved workspace configuration: frozen dataclasses the loader produces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federation.errors import Location

MASK = "[secure]"


@dataclass(frozen=True)
class SourceConfig:
    """One source. ``options`` are interpolated; secret options are in ``secret_keys``."""

    name: str
    type: str
    options: Mapping[str, Any]
    location: Location
    secret_keys: frozenset[str] = frozenset()
    # every secret value seen while interpolating this source, to scrub from messages
    secret_values: frozenset[str] = field(default=frozenset(), repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def masked(self) -> dict[str, Any]:
        """Options with secrets replaced by ``[secure]``: safe to print."""
        return {k: (MASK if k in self.secret_keys else v) for k, v in self.options.items()}

    def __repr__(self) -> str:  # never leak secrets through repr
        return f"SourceConfig(name={self.name!r}, type={self.type!r}, options={self.masked()!r})"


@dataclass(frozen=True)
class WorkspaceConfig:
    root: Path
    sources: Mapping[str, SourceConfig]
    # Raw, validated-later sections owned by other packages (models/, segments, audiences, engine).
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # key path -> Location, for messages about any key of any section
    locations: Mapping[str, Location] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    # key path -> where its value starts (e.g. the first line of a block-scalar SQL)
    value_locations: Mapping[str, Location] = field(default_factory=dict)

    def __repr__(self) -> str:  # a summary: sections may hold values taken from the environment
        counts = ", ".join(f"{k}={len(v)}" for k, v in self.sections.items() if v)
        return (f"WorkspaceConfig(root={str(self.root)!r}, sources={list(self.sources.values())!r}"
                f"{', ' + counts if counts else ''}, files={len(self.files)})")

    def secret_values(self) -> frozenset[str]:
        out: set[str] = set()
        for s in self.sources.values():
            out |= s.secret_values
        return frozenset(out)
