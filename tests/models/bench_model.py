"""Model benchmarks (not a test: run by hand, figures go in the report).

    .venv/bin/python -m tests.models.bench_model stitch  [N_RECORDS]
    .venv/bin/python -m tests.models.bench_model profile [N_KEYS]
    .venv/bin/python -m tests.models.bench_model stitch-e2e [N_PER_SOURCE]

stitch: N records over two sources, two identifiers each (2N identifiers), with
chains through shared phones; times fetch-free clustering (``_records`` +
``_cluster``: components, hub cap, ids, trace).
profile: two in-memory sources of N keys each (half overlapping, 10 % duplicates),
one profile query through the planner and the Arrow executor; reports seconds,
peak RSS growth and the Arrow size of the columns the query reads.
"""

from __future__ import annotations

import resource
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Sampler:
    """Peak resident memory during a block, sampled every 2 ms from /proc (Linux)."""

    def __enter__(self) -> _Sampler:
        import threading

        self.base = self.peak = self._now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _now() -> int:
        import os

        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._now())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._now())


def bench_stitch(n: int) -> None:
    import yaml

    from federation.errors import Location
    from models.spec import parse_entities
    from models.stitch import _cluster, _records
    from tests.models.data import STITCH_YAML

    text = STITCH_YAML.replace("max_cluster_size: 50", "max_cluster_size: 10000000")
    text = text.replace("max_records_per_identifier: 3", "max_records_per_identifier: 10")
    ent = parse_entities(yaml.safe_load(text), {}, Location("bench"))[0]["customers"]
    idx = pa.array(range(n), pa.int64())
    tables = []
    for s in range(2):
        # source 0 holds (e_i, p_i), source 1 (e_i+1, p_i): one chain through every record
        email = pc.binary_join_element_wise("u", pc.cast(pc.add(idx, s), pa.string()), "@x.com", "")
        phone = pc.binary_join_element_wise("+", pc.cast(idx, pa.string()), "")
        tables.append(pa.table({"_link": pc.binary_join_element_wise(email, phone, "\x1f"), "_id0": email, "_id1": phone}))
    t0 = time.perf_counter()
    nodes, long = _records(ent, tables)
    t1 = time.perf_counter()
    result = _cluster(ent, nodes, long)
    t2 = time.perf_counter()
    print(f"stitch: {nodes.num_rows} records, {long.num_rows} identifiers -> {result['customers']} customers "
          f"(largest {result['largest']}); records {t1 - t0:.2f} s, clustering {t2 - t1:.2f} s, "
          f"peak RSS {_rss_mb():.0f} MB")


def bench_profile(n: int) -> None:
    import tempfile
    from pathlib import Path

    from connectors.memory import MemoryConnector
    from tests.models.data import ENTITIES_YAML
    from tests.models.helpers import make_ws

    ws = make_ws(Path(tempfile.mkdtemp()), {}, "memory", ENTITIES_YAML)
    idx = pa.array(range(n), pa.int64())
    crm = pa.table({"id": idx, "email": pc.binary_join_element_wise("User", pc.cast(idx, pa.string()), "@x.com"),
                    "lifecyclestage": pc.if_else(pc.equal(pc.bit_wise_and(idx, 3), 0), "lead", "customer"),
                    "phone": pc.cast(idx, pa.string()), "updatedat": idx})
    dup = pc.if_else(pc.less(pc.bit_wise_and(idx, 15), 2), pc.subtract(idx, 1), idx)  # ~12 % duplicates
    shift = pc.add(dup, n // 2)
    shop = pa.table({"id": idx, "email": pc.binary_join_element_wise(" user", pc.cast(shift, pa.string()), "@x.com"),
                     "country": pc.if_else(pc.equal(pc.bit_wise_and(idx, 1), 0), "FR", "DE"),
                     "ltv": pc.cast(idx, pa.float64()), "phone": pc.cast(idx, pa.string()), "updated_at": idx})
    ws.add_connector("crm", MemoryConnector("crm", {"contacts": crm}))
    ws.add_connector("shop", MemoryConnector("shop", {"customers": shop}))
    sql = "SELECT country, count(*) AS n, sum(lifetime_value) AS ltv FROM customers GROUP BY country"
    used = crm.select(["email"]).nbytes + shop.select(["email", "country", "ltv", "updated_at", "phone"]).nbytes
    ws.query(sql.replace("FROM customers", "FROM customers WHERE email = 'none'"))  # warm imports and caches
    for _ in range(2):  # the second run shows the steady state (allocator pools already grown)
        with _Sampler() as mem:
            t0 = time.perf_counter()
            out = ws.query(sql)
            secs = time.perf_counter() - t0
        _report(n, out, secs, used, mem)


def _report(n: int, out: pa.Table, secs: float, used: int, mem: _Sampler) -> None:
    print(f"profile: {2 * n} source records, {out.num_rows} result rows in {secs:.2f} s; "
          f"Arrow size of used columns {used / 1e6:.0f} MB; peak RSS above the start of the query "
          f"{(mem.peak - mem.base) / 1e6:.0f} MB ({(mem.peak - mem.base) / used:.1f}x)")


def bench_stitch_e2e(n: int) -> None:
    """Stitching through the planner and the ADBC SQLite connector: two files of n
    records each (2 identifiers per record), one chain through every record;
    pre-pass fetch + clustering + the merged query."""
    import sqlite3
    import tempfile
    from pathlib import Path

    from tests.models.data import STITCH_YAML

    root = Path(tempfile.mkdtemp())
    ddl = {"crm": "CREATE TABLE contacts (id INTEGER, email TEXT, lifecyclestage TEXT, phone TEXT, updatedat INTEGER)",
           "shop": "CREATE TABLE customers (id INTEGER, email TEXT, country TEXT, ltv REAL, phone TEXT, updated_at INTEGER)"}
    for name, create in ddl.items():
        con = sqlite3.connect(root / f"{name}.db")
        con.execute(create)
        shift = 1 if name == "shop" else 0  # shop's record i has e-mail i+1: one chain through everything
        rows = ((i, f"u{i + shift}@x.com", "a", 1.0, f"+{i}", i) for i in range(n))
        if name == "crm":
            rows = ((i, e, a, p, u) for i, e, a, _, p, u in rows)
        con.executemany(f"INSERT INTO {create.split()[2]} VALUES ({', '.join('?' * create.count(','))}, ?)", rows)
        con.commit()
        con.close()
    text = STITCH_YAML.replace("max_cluster_size: 50", "max_cluster_size: 100000000")
    text = text.replace("max_records_per_identifier: 3", "max_records_per_identifier: 10")
    import textwrap

    from federation import Workspace

    (root / "sources.yaml").write_text("sources:\n  crm: {type: sqlite, path: crm.db}\n  shop: {type: sqlite, path: shop.db}\n")
    (root / "model.yaml").write_text("entities:\n" + textwrap.indent(textwrap.dedent(text).strip("\n"), "  ") + "\n")
    ws = Workspace.load(root, env={})
    t0 = time.perf_counter()
    out = ws.query("SELECT count(*) AS customers FROM customers")
    print(f"stitch e2e: {2 * n} records, {4 * n} identifiers from two SQLite files -> "
          f"{out.to_pylist()[0]['customers']} customers in {time.perf_counter() - t0:.2f} s")
    for note in ws.model.last_expansion_notes:
        print("  " + note)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "stitch"
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
    {"stitch": bench_stitch, "profile": bench_profile, "stitch-e2e": bench_stitch_e2e}[what](size)
