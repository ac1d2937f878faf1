"""Streaming diff of an audience against a sync state, by key and row hash.

The audience is read once, batch by batch; each row is compared with the state
(``{key: row_hash}``) and only added or changed rows are kept, so memory holds
the state, the set of keys seen, and one batch. Keys of the state that the
audience no longer returns are ``removed``.

A row hash is 16 hex digits of BLAKE2b over the column names and the row's
values (JSON), so a changed value, a new column or a renamed field all count as
a change. Keys are compared as text (``42`` and ``"42"`` are the same record).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from models.audiences import Audience


@dataclass
class Change:
    op: str  # "add" | "change" | "remove"
    key: str
    hash: str
    row: dict[str, Any] | None  # None for removals


@dataclass
class DiffCounts:
    read: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    no_key: int = 0
    duplicate_keys: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def key_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


class RowHasher:
    def __init__(self, names: list[str]) -> None:
        self._base = hashlib.blake2b(json.dumps(names).encode(), digest_size=8)

    def __call__(self, values: list[Any]) -> str:
        h = self._base.copy()
        h.update(json.dumps(values, default=str, separators=(",", ":")).encode())
        return h.hexdigest()


class Differ:
    """Feed batches; get the rows to send. ``force`` treats every row as changed (full resync)."""

    def __init__(self, old: Mapping[str, str], key: str, force: bool = False) -> None:
        self.old, self.key, self.force = old, key, force
        self.seen: set[str] = set()
        self.counts = DiffCounts()
        self._hasher: RowHasher | None = None

    def feed(self, batch: pa.RecordBatch) -> list[Change]:
        names = batch.schema.names
        if self._hasher is None:
            self._hasher = RowHasher(names)
        cols = [c.to_pylist() for c in batch.columns]
        ki = names.index(self.key)
        out: list[Change] = []
        c = self.counts
        for values in zip(*cols):
            c.read += 1
            key = key_text(values[ki])
            if key is None:
                c.no_key += 1
                continue
            if key in self.seen:
                c.duplicate_keys += 1
            self.seen.add(key)
            h = self._hasher(list(values))
            before = self.old.get(key)
            if before is None:
                c.added += 1
                out.append(Change("add", key, h, dict(zip(names, values))))
            elif before != h or self.force:
                c.changed += 1
                out.append(Change("change", key, h, dict(zip(names, values))))
            else:
                c.unchanged += 1
        return out

    def removed(self) -> list[Change]:
        gone = [Change("remove", k, h, None) for k, h in self.old.items() if k not in self.seen]
        self.counts.removed = len(gone)
        return gone


@dataclass
class Diff:
    """What ``audience.diff(state)`` returns."""

    added: pa.Table
    changed: pa.Table
    removed: list[str]
    counts: DiffCounts
    hashes: dict[str, str] = field(default_factory=dict)  # key -> new hash of added/changed rows

    def summary(self) -> dict[str, int]:
        return self.counts.as_dict()


def diff_batches(batches: Iterable[pa.RecordBatch], old: Mapping[str, str], key: str,
                 schema: pa.Schema | None = None) -> Diff:
    import pyarrow as pa

    differ = Differ(old, key)
    adds: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    hashes: dict[str, str] = {}
    for batch in batches:
        schema = batch.schema
        for ch in differ.feed(batch):
            (adds if ch.op == "add" else changes).append(ch.row)  # type: ignore[arg-type]
            hashes[ch.key] = ch.hash
    removed = [c.key for c in differ.removed()]

    def table(rows: list[dict[str, Any]]) -> pa.Table:
        if schema is None:
            return pa.table({})
        return pa.Table.from_pylist(rows, schema=schema)

    return Diff(table(adds), table(changes), removed, differ.counts, hashes)


def diff_audience(audience: Audience, state: Any) -> Diff:
    from models.audiences import as_mapping

    return diff_batches(audience.batches(), as_mapping(state), audience.key)


def chunks(changes: Iterator[Change], size: int) -> Iterator[list[Change]]:
    buf: list[Change] = []
    for ch in changes:
        buf.append(ch)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf
