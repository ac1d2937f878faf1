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


def _read(catalog: Catalog, frag: Fragment, st: FragmentStats, cancel: threading.Event | None) -> pa.Table | None:
    """Read a fragment whole; None when ``cancel`` was set before it finished."""
    import pyarrow as pa

    st.request = frag.request
    reader = open_fragment(catalog, frag, st)
    batches = []
    for batch in reader:
        if cancel is not None and cancel.is_set():
            reader.close()
            return None
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema)


def fetch_all(catalog: Catalog, plan: Plan, stats: RunStats, dynamic: bool = True) -> dict[str, pa.Table]:
    """Fetch every fragment concurrently. A probe whose join partner is likely much
    smaller waits for it (at most ``dynamic.WAIT_SECONDS``, as Trino's dynamic
    filters do), then decides from the keys it sees whether to send them."""
    from concurrent.futures import wait

    from federation.dynamic import WAIT_SECONDS, apply_keys, probes

    for f in plan.fragments:
        stats.fragments.setdefault(f.id, FragmentStats())
    waiting = probes(catalog, plan) if dynamic else {}
    cancel = threading.Event()

    def probe(frag: Fragment, edges: list, builds: dict) -> pa.Table | None:  # type: ignore[type-arg]
        st = stats.fragments[frag.id]
        done, _ = wait([builds[e.build] for e in edges], timeout=WAIT_SECONDS)
        ready = {e.build: builds[e.build].result() for e in edges if builds[e.build] in done}
        if ready:
            frag = apply_keys(catalog, frag, [e for e in edges if e.build in ready], ready, st)
        else:
            st.dynamic_filter = {"from": edges[0].build, "column": edges[0].probe_column, "used": False,
                                 "reason": f"its join partner took longer than {WAIT_SECONDS} s"}
        return _read(catalog, frag, st, cancel)

    workers = max(1, min(32, len(plan.fragments)))  # probes wait on builds: one thread each
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        futures = {f.id: pool.submit(_read, catalog, f, stats.fragments[f.id], cancel)
                   for f in plan.fragments if f.id not in waiting}
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
