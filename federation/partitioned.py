"""Streaming answers in key partitions (grace hash): bounded memory for merged profiles.

When the residual is key-partitionable (federation/partition_plan.py: which
fragments are partitioned, on which key expression), every partitioned fragment
streams batch by batch; each chunk's key is computed by the executor and hashed
(``bucket_of``: equal values of different Arrow types, int32/int64/float,
string/large_string, date/timestamp, land in one bucket; NULL keys in bucket 0)
into ``BUCKETS`` buckets, kept in memory while the input is under its share of
a partition, else spilled to an Arrow IPC file in a temporary directory
(removed at the end, on error, or when the reader is dropped). The broadcast
fragments are read whole meanwhile, and the CTEs and derived tables that read
only them are computed once. Buckets are then grouped into partitions of about
``TARGET_ROWS`` rows, and the residual runs once per partition.

An input whose rows must meet a likely-smaller partner in an inner join
(federation/rules/dynamic_filter.py) waits for that partner and keeps only the
rows whose key is among the partner's, as the whole run's dynamic filtering
does, before they are hashed and spilled.

Memory is then a partition, a chunk of ``SPILL_ROWS`` per input, and the
broadcast inputs; a partition outgrows the target only when one bucket does (a
skewed key, or more than ``BUCKETS`` x ``TARGET_ROWS`` rows).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from federation.partition_plan import Key, Partitioning, partitioning

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from federation.catalog import Catalog
    from federation.plan import Fragment, Plan
    from federation.run import RunStats

__all__ = ["BUCKETS", "TARGET_ROWS", "Partitioning", "bucket_of", "partitioned", "partitioning"]

TARGET_ROWS = 100_000  # rows (over all partitioned inputs) per partition; Workspace.partition_rows overrides
BUCKETS = 256  # hash buckets written to disk; partitions are groups of buckets
SPILL_ROWS = 65_536  # rows of one input hashed and split at a time
MAX_KEYS = 1_000_000  # distinct build keys held to reduce another input


# -- hashing --------------------------------------------------------------------------

_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads consecutive integers over buckets
_M64 = (1 << 64) - 1


def _int_buckets(values: np.ndarray, n: int) -> np.ndarray:
    import numpy as np

    h = values.astype(np.int64, copy=False).view(np.uint64) * np.uint64(_MIX)  # wraps modulo 2**64
    return ((h >> np.uint64(32)) % np.uint64(n)).astype(np.int64)


def _py_int_bucket(v: int, n: int) -> int:
    return ((((v & _M64) * _MIX) & _M64) >> 32) % n  # the same as _int_buckets, for one value


def _value_bucket(v: object, n: int) -> int:
    """One non-integer value's bucket from a stable encoding (equal values, equal bytes)."""
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2.0**63:
            return _py_int_bucket(int(v), n)
        data = b"f" + repr(v).encode()
    elif isinstance(v, str):
        data = b"s" + v.encode()
    elif isinstance(v, bytes):
        data = b"b" + v
    else:
        data = b"o" + repr(v).encode()
    return zlib.crc32(data) % n


def bucket_of(arr: pa.Array | pa.ChunkedArray, n: int) -> np.ndarray:
    """The bucket (0..n-1) of every value: equal SQL values (int32 3, int64 3, 3.0;
    'a' as string or large_string; a date and its midnight timestamp) share a bucket,
    as the executor's join equality would match them; NULL is bucket 0."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.dictionary_decode(), t.value_type
    if len(arr) == 0:
        return np.zeros(0, np.int64)
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        ints = arr.cast(pa.int64(), safe=False)
    elif pa.types.is_date(t):
        ints = pc.multiply(arr.cast(pa.date32()).cast(pa.int32()).cast(pa.int64()), 86_400_000_000)
    elif pa.types.is_timestamp(t):  # microseconds of the value: naive timestamps are UTC
        ints = arr.cast(pa.timestamp("us", t.tz), safe=False).cast(pa.int64())
    else:
        ints = None
    if ints is not None:
        out = _int_buckets(ints.fill_null(0).to_numpy(zero_copy_only=False), n)
    else:
        enc = arr.dictionary_encode()
        values = enc.dictionary.to_pylist()
        per_value = np.fromiter((_value_bucket(v, n) for v in values), np.int64, len(values))
        idx = enc.indices.fill_null(0).to_numpy(zero_copy_only=False)
        out = per_value[idx] if len(values) else np.zeros(len(arr), np.int64)
    if arr.null_count:
        out = np.where(arr.is_null().to_numpy(zero_copy_only=False), 0, out)
    return out


# -- spilling -------------------------------------------------------------------------

class _Spill:
    """One input's rows cut into buckets: kept in memory while small, else in an IPC file."""

    def __init__(self, folder: str, fid: str, schema: pa.Schema, buckets: int, memory_rows: int) -> None:
        self.fid, self.path = fid, f"{folder}/{fid}.arrow"
        self.schema, self.buckets, self.memory_rows = schema, buckets, memory_rows
        self.index: list[list[int]] = [[] for _ in range(buckets)]
        self.rows = [0] * buckets
        self.held: list[pa.RecordBatch] | None = []
        self.held_rows = 0
        self.count = 0
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._reader: pa.ipc.RecordBatchFileReader | None = None
        self._file: object = None
        self.keys: dict[str, pa.Array] = {}  # distinct values of columns other inputs are reduced by

    def add(self, table: pa.Table, buckets: np.ndarray) -> None:
        import numpy as np
        import pyarrow as pa

        order = np.argsort(buckets, kind="stable")
        counts = np.bincount(buckets, minlength=self.buckets)
        table = table.take(pa.array(order)).combine_chunks()
        start = 0
        for b in np.flatnonzero(counts):
            size = int(counts[b])
            for batch in table.slice(start, size).to_batches():
                self._write(batch)
                self.index[b].append(self.count - 1)
            self.rows[b] += size
            start += size

    def _write(self, batch: pa.RecordBatch) -> None:
        import pyarrow as pa

        self.count += 1
        if self.held is not None:
            self.held.append(batch)
            self.held_rows += batch.num_rows
            if self.held_rows <= self.memory_rows:
                return
            self._file = pa.OSFile(self.path, "wb")
            self._writer = pa.ipc.new_file(self._file, self.schema)
            held, self.held = self.held, None
            for b in held:
                self._writer.write_batch(b)
            return
        assert self._writer is not None
        self._writer.write_batch(batch)

    def finish(self) -> None:
        import pyarrow as pa

        if self._writer is not None:
            self._writer.close()
            self._file.close()  # type: ignore[attr-defined]
            self._writer = None
            self._file = pa.OSFile(self.path, "rb")  # read back into pool memory, not mapped
            self._reader = pa.ipc.open_file(self._file)

    def table(self, buckets: list[int]) -> pa.Table:
        import pyarrow as pa

        ids = [i for b in buckets for i in self.index[b]]
        if self.held is not None:
            batches = [self.held[i] for i in ids]
        else:
            assert self._reader is not None
            batches = [self._reader.get_batch(i) for i in ids]
        return pa.Table.from_batches(batches, schema=self.schema)

    def close(self) -> None:
        for h in (self._writer, self._file):
            try:
                if h is not None:
                    h.close()  # type: ignore[attr-defined]
            except Exception:  # closing is best effort; the folder is removed next
                pass
        self.held = []


@dataclass
class _Reduce:
    """Semi-join reduction of a partitioned input (federation/rules/dynamic_filter.py):
    rows whose ``column`` is not among the build's keys never reach the answer."""

    column: str
    build: str
    build_column: str
    keys: pa.Array | None = None  # None: the build had too many keys, or none could be read


def _distinct(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pc.unique(values)
    return (out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out).drop_null()


def _keep(table: pa.Table, reduce: _Reduce | None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    if reduce is None or reduce.keys is None or reduce.column not in table.column_names:
        return table
    col, keys = table.column(reduce.column), reduce.keys
    kinds = [("int" if pa.types.is_integer(t) else "text" if pa.types.is_string(t) or pa.types.is_large_string(t)
              else None) for t in (col.type, keys.type)]
    if kinds[0] is None or kinds[0] != kinds[1]:
        return table  # the join's own cast decides what matches: keep every row
    try:
        keys = keys.cast(col.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return table  # a key too wide for this column: keep every row
    return table.filter(pc.is_in(col, value_set=keys))


def _spill_fragment(catalog: Catalog, frag: Fragment, key: Key, spill_folder: str, buckets: int,
                    memory_rows: int, stats: RunStats, cancel: threading.Event,
                    collect: tuple[str, ...] = (), reduce: _Reduce | None = None) -> _Spill:
    """Stream ``frag`` into its buckets. ``collect``: columns whose distinct values are
    kept (up to MAX_KEYS) for the inputs this one reduces; ``reduce``: keep only rows
    whose key is among a build's."""
    import numpy as np
    import pyarrow as pa

    from federation.execute import evaluate
    from federation.run import FragmentStats, open_fragment

    st = stats.fragments.setdefault(frag.id, FragmentStats())
    st.request = frag.request
    reader = open_fragment(catalog, frag, st)
    spill = _Spill(spill_folder, frag.id, reader.schema, buckets, memory_rows)
    seen: dict[str, list[pa.Array] | None] = {c: [] for c in collect if c in reader.schema.names}
    pending: list[pa.RecordBatch] = []
    rows = dealt = 0

    def flush() -> None:
        nonlocal pending, rows, dealt
        table = pa.Table.from_batches(pending, schema=reader.schema)
        pending, rows = [], 0
        for c, parts in seen.items():
            if parts is not None:
                parts.append(_distinct(table.column(c)))
                if sum(len(p) for p in parts) > MAX_KEYS:
                    parts[:] = [_distinct(pa.chunked_array(parts))]
                    if len(parts[0]) > MAX_KEYS:
                        seen[c] = None  # too many keys to be worth holding
        table = _keep(table, reduce)
        if key is None:
            b = (np.arange(table.num_rows, dtype=np.int64) + dealt) % buckets
            dealt += table.num_rows
        else:
            b = bucket_of(evaluate(key, table), buckets)
        spill.add(table, b)

    try:
        for batch in reader:
            if cancel.is_set():
                reader.close()
                break
            if batch.schema != reader.schema:
                batch = pa.Table.from_batches([batch]).cast(reader.schema).combine_chunks().to_batches()[0]
            pending.append(batch)
            rows += batch.num_rows
            if rows >= SPILL_ROWS:
                flush()
        if pending:
            flush()
        spill.finish()
        spill.keys = {c: _distinct(pa.chunked_array(parts, reader.schema.field(c).type))
                      for c, parts in seen.items() if parts is not None}
    except BaseException:
        spill.close()
        raise
    return spill


def _reductions(catalog: Catalog, plan: Plan, found: Partitioning) -> dict[str, _Reduce]:
    """Partitioned inputs to reduce by a likely-smaller join partner's keys, as the
    whole run's dynamic filtering would (two waves: a build is never reduced itself)."""
    from federation.dynamic import build_side
    from federation.rules.dynamic_filter import find_edges

    by_id = {f.id: f for f in plan.fragments}
    out: dict[str, _Reduce] = {}
    for e in find_edges(plan.residual):
        if e.probe in found.keys and e.probe not in out and e.build in by_id and \
                build_side(catalog, by_id[e.build], by_id[e.probe]):
            out[e.probe] = _Reduce(e.probe_column, e.build, e.build_column)
    return {p: r for p, r in out.items() if r.build not in out}


def _read_inputs(catalog: Catalog, plan: Plan, found: Partitioning, folder: str, buckets: int, memory_rows: int,
                 stats: RunStats) -> tuple[dict[str, pa.Table], list[_Spill]]:
    """Spill every partitioned input (one thread each) while the broadcast ones are read
    whole; a reduced input starts once its build is in."""
    from concurrent.futures import Future, ThreadPoolExecutor
    from dataclasses import replace

    from federation.run import FragmentStats, fetch_all

    parts = [f for f in plan.fragments if f.id in found.keys]
    others = tuple(f for f in plan.fragments if f.id not in found.keys)
    reduces = _reductions(catalog, plan, found)
    cancel = threading.Event()
    futures: dict[str, Future] = {}  # type: ignore[type-arg]

    def spill(f: Fragment, reduce: _Reduce | None = None) -> _Spill:
        collect = tuple(r.build_column for r in reduces.values() if r.build == f.id)
        return _spill_fragment(catalog, f, found.keys[f.id], folder, buckets, memory_rows, stats, cancel,
                               collect, reduce)

    def probe(f: Fragment, r: _Reduce) -> _Spill:
        try:
            got = futures[r.build if r.build in found.keys else "__broadcast"].result()
        except BaseException:  # the build's own failure is reported with the others
            got = None
        if isinstance(got, _Spill):
            r.keys = got.keys.get(r.build_column)
        elif got is not None and r.build_column in got[r.build].column_names:
            keys = _distinct(got[r.build].column(r.build_column))
            r.keys = keys if len(keys) <= MAX_KEYS else None
        if r.keys is not None:
            stats.fragments.setdefault(f.id, FragmentStats()).dynamic_filter = {
                "from": r.build, "column": r.column, "keys": len(r.keys), "used": False, "in_stream": True,
                "reason": "applied to the rows as they arrived (key partitions)"}
        return spill(f, r)

    def stop_on_error(fut: Future) -> None:  # type: ignore[type-arg]
        if fut.exception() is not None:
            cancel.set()

    with ThreadPoolExecutor(max_workers=len(parts) + 1, thread_name_prefix="partition") as pool:
        if others:
            futures["__broadcast"] = pool.submit(fetch_all, catalog, replace(plan, fragments=others), stats,
                                                 dynamic=False)
        for f in parts:
            if f.id not in reduces:
                futures[f.id] = pool.submit(spill, f)
        for f in parts:
            if f.id in reduces:
                futures[f.id] = pool.submit(probe, f, reduces[f.id])
        for fut in futures.values():
            fut.add_done_callback(stop_on_error)
    error: BaseException | None = None
    spills, tables = [], {}
    for name, fut in futures.items():
        try:
            got = fut.result()
        except BaseException as e:
            error = error or e
            continue
        if name == "__broadcast":
            tables = got
        else:
            spills.append(got)
    if error is not None:
        for s in spills:
            s.close()
        raise error
    return tables, spills


def _groups(spills: list[_Spill], buckets: int, target: int, forced: int | None) -> list[list[int]]:
    """Buckets grouped into partitions of about ``target`` rows (``forced``: exactly that many)."""
    if forced is not None:
        return [[b] for b in range(buckets) if any(s.rows[b] for s in spills)]
    out: list[list[int]] = [[]]
    size = 0
    for b in range(buckets):
        rows = sum(s.rows[b] for s in spills)
        if rows == 0:
            continue
        if out[-1] and size + rows > target:
            out.append([])
            size = 0
        out[-1].append(b)
        size += rows
    return [g for g in out if g]


# -- execution ------------------------------------------------------------------------

def partitioned(catalog: Catalog, plan: Plan, stats: RunStats | None = None, rows_per_partition: int | None = None,
                partitions: int | None = None) -> pa.RecordBatchReader | None:
    """A reader of the answer computed partition by partition, or None when the plan
    is not key-partitionable. ``partitions`` forces the number of partitions (tests)."""
    import pyarrow as pa

    from federation.execute import execute
    from federation.run import RunStats

    found = partitioning(plan, catalog)
    if found is None:
        return None
    stats = stats if stats is not None else RunStats()
    target = rows_per_partition or TARGET_ROWS
    buckets = partitions if partitions is not None else BUCKETS
    folder = tempfile.mkdtemp(prefix="cdp-partitions-")
    spills: list[_Spill] = []
    try:
        # an input is held in memory up to its share of a partition, then spills
        tables, spills = _read_inputs(catalog, plan, found, folder, buckets, max(target // len(found.keys), 1), stats)
        per_part = _per_partition_query(found, tables)
        groups = _groups(spills, buckets, target, partitions)
        empty = {s.fid: s.schema.empty_table() for s in spills}
        schema = execute(per_part, {**tables, **empty}).schema
    except BaseException:
        for s in spills:
            s.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if any(pa.types.is_null(f.type) for f in schema):  # a type only the rows tell: answer whole
        try:
            whole = {s.fid: s.table(list(range(buckets))) for s in spills}
            return execute(per_part, {**tables, **whole}).to_reader()
        finally:
            for s in spills:
                s.close()
            shutil.rmtree(folder, ignore_errors=True)

    def cleanup() -> None:
        for s in spills:
            s.close()
        shutil.rmtree(folder, ignore_errors=True)

    def batches() -> Iterator[pa.RecordBatch]:
        sent = 0
        try:
            for group in groups:
                inputs = {s.fid: s.table(group) for s in spills}
                out = execute(per_part, {**tables, **inputs})
                del inputs
                if out.schema != schema:
                    out = out.cast(schema)
                if found.cap is not None:
                    out = out.slice(0, found.cap - sent)
                sent += out.num_rows
                yield from out.to_batches()
                if found.cap is not None and sent >= found.cap:
                    return
        finally:
            cleanup()

    gen = batches()
    weakref.finalize(gen, shutil.rmtree, folder, True)  # never iterated: the folder still goes
    return pa.RecordBatchReader.from_batches(schema, gen)


def _per_partition_query(found: Partitioning, tables: dict[str, pa.Table]) -> exp.Expression:
    """The residual with the broadcast CTEs and derived tables computed once into ``tables``
    (and the fragments only they read dropped)."""
    from federation.execute import execute

    q = found.query
    w = q.args.get("with_")
    kept = []
    for cte in (w.expressions if w else []):
        name = cte.alias_or_name
        if name in found.broadcast_ctes and _inputs_ready(cte.this, tables):
            tables[name] = execute(cte.this, tables)
        else:
            kept.append(cte)
    q.set("with_", exp.With(expressions=kept) if kept else None)
    for i, sub in enumerate(found.broadcast_subqueries):
        if sub.root() is not q or not _inputs_ready(sub.this, tables):
            continue  # inside a broadcast CTE computed above, or reading a nested CTE
        name = f"__b{i}"
        tables[name] = execute(sub.this, tables)
        sub.replace(exp.Table(this=exp.to_identifier(name), alias=sub.args.get("alias")))
    needed = {t.name for t in q.find_all(exp.Table)}
    for name in [n for n in tables if n not in needed]:
        del tables[name]  # read only by what was computed once: free it
    return q


def _inputs_ready(query: exp.Expression, tables: dict[str, pa.Table]) -> bool:
    local = {c.alias_or_name for c in query.find_all(exp.CTE)}
    return all(t.name in tables or t.name in local for t in query.find_all(exp.Table))
