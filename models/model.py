"""The loaded model and its hook into the planner (``Model.expand``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlglot import exp

from federation.errors import ConfigError, Location
from models.spec import LINKS_SUFFIX, Entity, parse_entities

if TYPE_CHECKING:
    from federation.workspace import Workspace

MODEL_SOURCE = "_model"  # the in-memory source holding stitched clusters and traces


class Model:
    """Entities of one workspace. ``expand`` rewrites entity references into SQL over sources.

    ``last_expansion_notes`` holds, after each ``expand`` on this thread, one line
    per decision (merge plan, pushed filters, pruned sources, stitching figures,
    excluded hub identifiers) for ``explain``; ``last_pruned`` maps each entity to
    the sources it did not read.
    """

    def __init__(self, entities: dict[str, Entity], workspace: Workspace | None = None) -> None:
        self.entities = entities
        self.workspace = workspace
        self._local = threading.local()  # concurrent queries each see their own notes

    @property
    def last_expansion_notes(self) -> list[str]:
        return list(getattr(self._local, "notes", []))

    @property
    def last_pruned(self) -> dict[str, list[str]]:
        return dict(getattr(self._local, "pruned", {}))

    def entity_names(self) -> list[str]:
        names = list(self.entities)
        names += [n + LINKS_SUFFIX for n, e in self.entities.items() if e.stitched]
        return names

    def entity(self, name: str) -> Entity:
        return self.entities[name]

    def expand(self, query: exp.Query, sql: str) -> exp.Query:
        """Replace every bare reference to an entity by a derived table over its sources."""
        from models.expand import expand_query

        notes: list[str] = []
        pruned: dict[str, list[str]] = {}
        out = expand_query(self, query, sql, notes, pruned)
        if not getattr(self._local, "internal", False):
            # internal queries (the stitching pre-pass) keep the caller's notes
            self._local.notes = notes
            self._local.pruned = pruned
        return out

    @contextmanager
    def internal(self) -> Iterator[None]:
        """Queries the model runs itself (over physical sources only) within this block."""
        before = getattr(self._local, "internal", False)
        self._local.internal = True
        try:
            yield
        finally:
            self._local.internal = before


def load_model(ws: Workspace) -> Model:
    """Parse the ``entities:`` section of ``ws``; raises ConfigError with every problem."""
    section = ws.config.sections.get("entities") or {}
    default = _default_location(ws)
    entities, problems = parse_entities(section, ws.config.locations, default)
    if problems:
        raise ConfigError(problems)
    return Model(entities, ws)


def _default_location(ws: Workspace) -> Location:
    loc = ws.config.locations.get("entities")
    if loc is not None:
        return loc
    files = ws.config.files
    return Location(str(files[0]) if files else str(ws.root))


__all__ = ["Model", "load_model", "MODEL_SOURCE"]
