"""Run a plan: fetch every fragment concurrently, then the residual in Arrow.

Each fragment is read on its own thread with its own connection (ADBC's
threadsafety is 1; the GIL is released while drivers fetch). Fetch statistics
(rows, bytes, seconds) are measured here, once, for every connector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from federation.errors import CdpError, SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from federation.catalog import Catalog
    from federation.plan import Fragment, Plan


@dataclass
class FragmentStats:
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    # what the runner decided about dynamic filtering for this fragment
    dynamic_filter: dict[str, object] | None = None
    # API sources: HTTP requests and retries this fragment caused
    requests: dict[str, object] | None = None
    request: object = None  # the ScanRequest actually sent


@dataclass
class RunStats:
    fragments: dict[str, FragmentStats] = field(default_factory=dict)
    seconds: float = 0.0
    arrow_seconds: float = 0.0
    rows: int = 0


def _request_counts(conn: object) -> dict[str, object] | None:
    counter = getattr(conn, "request_stats", None)
    return dict(counter()) if callable(counter) else None


def _batches(reader: pa.RecordBatchReader, frag: Fragment, stats: FragmentStats,
             before: dict[str, object] | None, conn: object) -> Iterator[pa.RecordBatch]:
    """Yield the reader's batches, timing the source and counting what crossed."""
    while True:
        t0 = time.perf_counter()
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            stats.seconds += time.perf_counter() - t0
            after = _request_counts(conn)
            if before is not None and after is not None:
                # counters are per source: fragments of one source read at once share them
                stats.requests = {k: after[k] - before.get(k, 0) for k in ("requests", "retries")  # type: ignore[operator]
                                  if isinstance(after.get(k), (int, float))}
            return
        except CdpError:
            raise
        except Exception as e:  # a driver's error: keep its text, name the source
            raise SourceError(frag.source, f"reading {', '.join(frag.tables)} failed: {type(e).__name__}: {e}") from e
        stats.seconds += time.perf_counter() - t0
        stats.rows += batch.num_rows
        stats.bytes += batch.nbytes
        yield batch


def open_fragment(catalog: Catalog, frag: Fragment, stats: FragmentStats) -> pa.RecordBatchReader:
    import pyarrow as pa

    conn = catalog.connector(frag.source)
    before = _request_counts(conn)
    t0 = time.perf_counter()
    try:
        reader = conn.scan(frag.request)
    except CdpError:
        raise
    except Exception as e:
        raise SourceError(frag.source, f"query failed: {type(e).__name__}: {e}") from e
    stats.seconds += time.perf_counter() - t0
    names = list(frag.request.output_names)
    schema = reader.schema
    if list(schema.names) != names and len(schema.names) == len(names):
        schema = pa.schema([f.with_name(n) for f, n in zip(schema, names)])
    return pa.RecordBatchReader.from_batches(
        schema, (b if b.schema.names == schema.names else b.rename_columns(names) for b in _batches(reader, frag, stats, before, conn))
    )


def _read(catalog: Catalog, frag: Fragment, st: FragmentStats, cancel: threading.Event | None,
          reducer: _Reducer | None = None) -> pa.Table | None:
    """Read a fragment whole; None when ``cancel`` was set before it finished."""
    import pyarrow as pa

    st.request = frag.request
    reader = open_fragment(catalog, frag, st)
    batches = []
    for batch in reader:
        if cancel is not None and cancel.is_set():
            reader.close()
            return None
        batches.append(reducer.batch(batch) if reducer is not None else batch)
    table = pa.Table.from_batches(batches, schema=reader.schema)
    return reducer.finish(table) if reducer is not None else table


class _Reducer:
    """Drops a probe's rows whose key is not among a finished join partner's keys,
    batch by batch, and at the end over the rows read before the partner finished.
    At the end it waits only for the partners in ``waits_for`` (ranked before it, so
    waits never form a cycle); others count only if already done.
    What it did goes to the fragment's stats."""

    def __init__(self, edges: list, futures: dict, stats: FragmentStats, decided: bool = False,  # type: ignore[type-arg]
                 waits_for: frozenset[str] = frozenset()) -> None:
        self.edges, self.futures, self.stats, self.waits_for = edges, futures, stats, waits_for
        self.keys: dict[int, object] = {}
        self.decided = decided  # the fragment already reports a pushed-keys decision

    def _ready(self, last: bool = False) -> list:  # type: ignore[type-arg]
        from federation.dynamic import keys_of

        out = []
        for i, e in enumerate(self.edges):
            wait = last and e.build in self.waits_for
            fut = self.futures.get(e.build)
            while fut is None and wait:  # the runner is still submitting the reads
                time.sleep(0.001)
                fut = self.futures.get(e.build)
            if fut is None:
                continue
            if i not in self.keys and (wait or fut.done()):
                try:
                    table = fut.result()
                except BaseException:  # the partner's own failure is reported by the runner
                    table = None
                self.keys[i] = keys_of(table, e.build_column) if table is not None and \
                    e.build_column in table.column_names else None
            if self.keys.get(i) is not None:
                out.append((e, self.keys[i]))
        return out

    def _reduce(self, rows, last: bool = False):  # type: ignore[no-untyped-def]
        from federation.dynamic import semi_reduce

        for e, keys in self._ready(last):
            if e.probe_column in rows.schema.names:
                cut = semi_reduce(rows, e.probe_column, keys)
                if cut is not None:
                    rows = cut
                    self._note(e, keys)
        return rows

    def _note(self, e, keys) -> None:  # type: ignore[no-untyped-def]
        d = self.stats.dynamic_filter
        if d is None or (not self.decided and d.get("from") != e.build):
            d = self.stats.dynamic_filter = {"from": e.build, "column": e.probe_column, "keys": len(keys),
                                             "used": False, "reason": "applied to the rows as they arrived"}
        d["in_stream"] = True

    def batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return self._reduce(batch)

    def finish(self, table: pa.Table) -> pa.Table:
        out = self._reduce(table, last=True)
        d = self.stats.dynamic_filter
        if d is not None and d.get("in_stream"):
            d["rows_kept"] = out.num_rows
        return out


def fetch_all(catalog: Catalog, plan: Plan, stats: RunStats, dynamic: bool = True) -> dict[str, pa.Table]:
    """Fetch every fragment concurrently. A probe whose join partner is likely much
    smaller waits for it (at most ``dynamic.WAIT_SECONDS``, as Trino's dynamic
    filters do), then decides from the keys it sees whether to send them."""
    from concurrent.futures import wait

    from federation.dynamic import WAIT_SECONDS, apply_keys, late_edges, late_rank, probes, semi_reduce

    for f in plan.fragments:
        stats.fragments.setdefault(f.id, FragmentStats())
    waiting = probes(catalog, plan) if dynamic else {}
    late = late_edges(plan, waiting) if dynamic else {}
    cancel = threading.Event()

    rank = late_rank(catalog, plan)

    def waits_for(fid: str, edges: list) -> frozenset[str]:  # type: ignore[type-arg]
        return frozenset(e.build for e in edges if e.build not in waiting and rank[e.build] < rank[fid])

    def reducer(fid: str, builds: dict, decided: bool = False) -> _Reducer | None:  # type: ignore[type-arg]
        if fid not in late:
            return None
        return _Reducer(late[fid], builds, stats.fragments[fid], decided, waits_for(fid, late[fid]))

    def probe(frag: Fragment, edges: list, builds: dict) -> pa.Table | None:  # type: ignore[type-arg]
        import pyarrow as pa

        st = stats.fragments[frag.id]
        done, _ = wait([builds[e.build] for e in edges], timeout=WAIT_SECONDS)
        ready = {e.build: builds[e.build].result() for e in edges if builds[e.build] in done}
        if ready:
            chunks = apply_keys(catalog, frag, [e for e in edges if e.build in ready], ready, st)
        else:
            chunks = [frag]
            st.dynamic_filter = {"from": edges[0].build, "column": edges[0].probe_column, "used": False,
                                 "reason": f"its join partner took longer than {WAIT_SECONDS} s"}
        pushed = bool(st.dynamic_filter and st.dynamic_filter.get("used") and "range" not in st.dynamic_filter)
        # keys not sent to the source still cut the rows as they arrive
        if pushed:
            red = reducer(frag.id, builds, True)
        else:
            mine = edges + late.get(frag.id, [])
            red = _Reducer(mine, builds, st, True, waits_for(frag.id, mine))
        if len(chunks) == 1:
            return _read(catalog, chunks[0], st, cancel, red)
        parts = []
        for c in chunks:
            part = _read(catalog, c, st, cancel, red)
            if part is None:
                return None
            kf = c.request.key_filter
            exact = semi_reduce(part, kf.column, kf.keys) if kf.column in part.column_names else None
            if exact is None:  # cannot tell which rows are this chunk's: one plain read
                st.dynamic_filter = {**(st.dynamic_filter or {}), "used": False,
                                     "reason": "the keys and the column differ in type"}
                st.rows = st.bytes = 0
                return _read(catalog, frag, st, cancel, red)
            parts.append(exact)
        st.request = frag.request
        return pa.concat_tables(parts)

    workers = max(1, min(32, len(plan.fragments)))  # probes wait on builds: one thread each
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        futures: dict = {}  # type: ignore[type-arg]
        for f in plan.fragments:
            if f.id not in waiting:
                futures[f.id] = pool.submit(_read, catalog, f, stats.fragments[f.id], cancel, reducer(f.id, futures))
        for pid, (frag, edges) in waiting.items():
            futures[pid] = pool.submit(probe, frag, edges, futures)
        try:
            out = {fid: fut.result() for fid, fut in futures.items()}
        except BaseException:
            cancel.set()  # stop the other reads: the query has failed
            raise
    return out  # type: ignore[return-value]


def run(catalog: Catalog, plan: Plan, stats: RunStats | None = None) -> pa.Table:
    """The answer of ``plan`` as one Arrow table."""
    stats = stats if stats is not None else RunStats()
    t0 = time.perf_counter()
    if plan.residual is None:
        frag = plan.fragments[0]
        table = open_fragment(catalog, frag, stats.fragments.setdefault(frag.id, FragmentStats())).read_all()
    else:
        from federation.execute import execute

        tables = fetch_all(catalog, plan, stats)
        t1 = time.perf_counter()
        table = execute(plan.residual, tables)
        stats.arrow_seconds = time.perf_counter() - t1
    stats.seconds = time.perf_counter() - t0
    stats.rows = table.num_rows
    return table


def run_batches(catalog: Catalog, plan: Plan) -> pa.RecordBatchReader:
    """Streaming form: a single-fragment plan streams straight from its source; a
    row-wise pipeline streams its largest input (federation/stream.py); anything
    else is answered whole, then handed out in batches."""
    if plan.residual is None:
        frag = plan.fragments[0]
        return open_fragment(catalog, frag, FragmentStats())
    from federation.stream import stream

    reader = stream(catalog, plan)
    return reader if reader is not None else run(catalog, plan).to_reader()
