"""Streaming diff of an audience against a sync state, by key and row hash.

The audience is read once, batch by batch; each row is compared with the state
(``{key: row_hash}``) and only added or changed rows are kept, so memory holds
the state, the set of keys seen, and one batch. Keys of the state that the
audience no longer returns are ``removed``.

A row hash is 16 hex digits of BLAKE2b over the column names and the row's
values rendered as text by Arrow (nested values as JSON), so a changed value, a new column or a renamed field all count as
a change. Keys are compared as text (``42`` and ``"42"`` are the same record).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
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
    """Row hashes for a whole batch: columns rendered as text in Arrow, one BLAKE2b per row."""

    def __init__(self, names: list[str]) -> None:
        self._base = hashlib.blake2b(json.dumps(names).encode(), digest_size=8)

    def batch(self, batch: pa.RecordBatch) -> list[str]:
        import pyarrow as pa
        import pyarrow.compute as pc

        cols = []
        for arr in batch.columns:
            try:
                text = pc.cast(arr, pa.string())
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid):  # nested or binary: JSON per value
                text = pa.array([None if v is None else json.dumps(v, default=str, sort_keys=True)
                                 for v in arr.to_pylist()], pa.string())
            cols.append(pc.fill_null(text, "\x00"))  # null differs from ''
        joined = pc.binary_join_element_wise(*cols, "\x1f") if len(cols) > 1 else cols[0]
        base = self._base
        out = []
        for s in joined.to_pylist():
            h = base.copy()
            h.update(s.encode())
            out.append(h.hexdigest())
        return out


def batch_keys(arr: Any) -> Any:
    """Key values as an Arrow text array (integral floats without '.0', as key_text does)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_floating(arr.type):
        try:
            return pc.cast(arr, pa.string())
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            pass
    return pa.array([key_text(v) for v in arr.to_pylist()], pa.string())


class Differ:
    """Feed batches; get the rows to send. ``force`` treats every row as changed (full resync).

    Memory: the old state (a dict) plus the keys seen so far as Arrow text arrays
    (a few bytes per key, not a Python set)."""

    def __init__(self, old: Mapping[str, str], key: str, force: bool = False) -> None:
        self.old, self.key, self.force = old, key, force
        self.seen: list[Any] = []  # Arrow arrays of the keys read, non-null
        self.counts = DiffCounts()
        self._hasher: RowHasher | None = None

    def feed(self, batch: pa.RecordBatch) -> list[Change]:
        import pyarrow.compute as pc

        names = batch.schema.names
        if self._hasher is None:
            self._hasher = RowHasher(names)
        key_arr = batch_keys(batch.column(names.index(self.key)))
        self.seen.append(pc.drop_null(key_arr))
        keys = key_arr.to_pylist()
        hashes = self._hasher.batch(batch)
        picked: list[tuple[int, str, str, str]] = []
        c, old, force = self.counts, self.old, self.force
        c.read += len(keys)
        for i, (key, h) in enumerate(zip(keys, hashes)):
            if key is None:
                c.no_key += 1
                continue
            before = old.get(key)
            if before is None:
                c.added += 1
                picked.append((i, "add", key, h))
            elif before != h or force:
                c.changed += 1
                picked.append((i, "change", key, h))
            else:
                c.unchanged += 1
        if not picked:
            return []
        rows = batch.take([p[0] for p in picked]).to_pylist()  # only changed rows become Python objects
        return [Change(op, key, h, row) for (_, op, key, h), row in zip(picked, rows)]

    def removed(self) -> list[Change]:
        """Keys of the old state the audience no longer returns (call once, after the last batch)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        seen = pa.chunked_array(self.seen, pa.string()) if self.seen else pa.chunked_array([], pa.string())
        self.counts.duplicate_keys = len(seen) - pc.count_distinct(seen).as_py()
        old_keys = pa.array(list(self.old), pa.string())
        gone_mask = pc.invert(pc.is_in(old_keys, value_set=seen.combine_chunks()))
        gone = [Change("remove", k, self.old[k], None) for k in pc.filter(old_keys, gone_mask).to_pylist()]
        self.counts.removed = len(gone)
        self.seen = []
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
