"""Run a plan: fetch every fragment concurrently, then the residual in Arrow.

Each fragment is read on its own thread with its own connection (ADBC's
threadsafety is 1; the GIL is released while drivers fetch). Fetch statistics
(rows, bytes, seconds) are measured here, once, for every connector.
"""

from __future__ import annotations

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


def fetch_all(catalog: Catalog, plan: Plan, stats: RunStats, dynamic: bool = True) -> dict[str, pa.Table]:
    """Fetch every fragment; selective sides first when their keys can shrink others."""
    from federation.dynamic import apply_keys, schedule

    def fetch(frag: Fragment) -> tuple[str, pa.Table]:
        st = stats.fragments.setdefault(frag.id, FragmentStats())
        st.request = frag.request
        return frag.id, open_fragment(catalog, frag, st).read_all()

    for f in plan.fragments:
        stats.fragments.setdefault(f.id, FragmentStats())
    first, later = schedule(catalog, plan) if dynamic else (list(plan.fragments), [])
    out: dict[str, pa.Table] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(plan.fragments))), thread_name_prefix="fetch") as pool:
        out.update(pool.map(fetch, first))
        if later:
            reduced = [apply_keys(catalog, frag, edges, out, stats.fragments[frag.id]) for frag, edges in later]
            out.update(pool.map(fetch, reduced))
    return out


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
    """Streaming form: a single-fragment plan streams straight from its source."""
    if plan.residual is None:
        frag = plan.fragments[0]
        return open_fragment(catalog, frag, FragmentStats())
    return run(catalog, plan).to_reader()
