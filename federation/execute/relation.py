"""Relations (a table plus the qualified names of its columns) and the query context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from federation.errors import QueryError, UnsupportedError


@dataclass
class Relation:
    """Columns addressable as ``qualifier.name``; the table's own names are internal (c0, c1, ...)."""

    table: pa.Table
    names: list[tuple[str | None, str]]

    @staticmethod
    def of(table: pa.Table, qualifier: str | None, names: list[str] | None = None) -> Relation:
        names = list(table.column_names) if names is None else names
        internal = pa.Table.from_arrays(list(table.columns), names=[f"c{i}" for i in range(table.num_columns)])
        return Relation(internal, [(qualifier, n) for n in names])

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def find(self, qualifier: str | None, name: str) -> int | None:
        hits = [i for i, (q, n) in enumerate(self.names)
                if n == name and (qualifier is None or q == qualifier)]
        if not hits:  # sources may keep their own case ("firstName"); SQL folds it
            low = name.lower()
            hits = [i for i, (q, n) in enumerate(self.names)
                    if n.lower() == low and (qualifier is None or (q or "").lower() == qualifier.lower())]
        if len(hits) > 1 and qualifier is None:
            # an output alias shadows the input columns (ORDER BY's rule)
            unq = [i for i in hits if self.names[i][0] is None]
            hits = unq if len(unq) == 1 else hits
            if len(hits) > 1:
                raise QueryError(f"column reference '{name}' is ambiguous")
        return hits[0] if hits else None

    def column(self, i: int) -> pa.ChunkedArray:
        return self.table.column(i)

    def qualifiers(self) -> set[str]:
        return {q for q, _ in self.names if q}

    def concat(self, other: Relation) -> Relation:
        """Columns of both side by side (same row count)."""
        cols = list(self.table.columns) + list(other.table.columns)
        return Relation(pa.Table.from_arrays(cols, names=[f"c{i}" for i in range(len(cols))]),
                        self.names + other.names)

    def take(self, indices: pa.Array) -> Relation:
        return Relation(self.table.take(indices), self.names)

    def filter(self, mask: pa.Array | pa.ChunkedArray) -> Relation:
        return Relation(self.table.filter(mask), self.names)

    def with_columns(self, cols: list[pa.ChunkedArray | pa.Array], names: list[tuple[str | None, str]]) -> Relation:
        arrays = list(self.table.columns) + list(cols)
        return Relation(pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))]),
                        self.names + names)


@dataclass
class Context:
    """What a query sees: the input tables, CTEs in scope, enclosing scopes' names."""

    tables: Mapping[str, pa.Table]
    ctes: dict[str, pa.Table] = field(default_factory=dict)
    outer: frozenset[str] = frozenset()
    cache: dict[int, object] = field(default_factory=dict)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    normalised: dict[str, pa.Table] = field(default_factory=dict)

    def child(self, outer: set[str] | frozenset[str] = frozenset()) -> Context:
        return Context(self.tables, dict(self.ctes), self.outer | frozenset(outer), self.cache, self.now,
                       self.normalised)

    def table(self, name: str) -> pa.Table:
        from federation.execute.types import norm_table

        if name in self.ctes:
            return self.ctes[name]
        low = name.lower()
        for k, v in self.ctes.items():
            if k.lower() == low:
                return v
        if name not in self.normalised:
            src = self.tables.get(name)
            if src is None:
                src = next((v for k, v in self.tables.items() if k.lower() == low), None)
            if src is None:
                raise QueryError(f"relation '{name}' does not exist",
                                 hint="The executor was given: " + ", ".join(sorted(self.tables)))
            self.normalised[name] = norm_table(src)
        return self.normalised[name]


def correlated(name: str, qualifier: str | None) -> UnsupportedError:
    ref = f"{qualifier}.{name}" if qualifier else name
    return UnsupportedError(f"correlated subquery referencing {ref} (rewrite it as a join)")
