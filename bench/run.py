"""Run the bench: every query on fedcdp, DuckDB (federating the same PostgreSQL
and Parquet) and pandas; median of N runs, ratios, rows fetched, own time, RSS.

    python -m bench.run [--runs 5] [--only NAME] [--engines fedcdp,duckdb,pandas]

Each (engine, query) runs in its own process so peak RSS is its own. Results go
to bench/results/<date>.md and .json with the machine description.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EVENTS = HERE / "data" / "events"
PG_URI = os.environ.get("BENCH_PG_URI", "postgresql://postgres@127.0.0.1:5432/test")


class PandasSources:
    """How an analyst reads the sources: whole tables into DataFrames."""

    def customers(self):  # type: ignore[no-untyped-def]
        return self._pg("SELECT * FROM bench.customers")

    def orders(self):  # type: ignore[no-untyped-def]
        return self._pg("SELECT * FROM bench.orders")

    def events(self):  # type: ignore[no-untyped-def]
        import pandas as pd

        return pd.read_parquet(EVENTS)

    @staticmethod
    def _pg(sql: str):  # type: ignore[no-untyped-def]
        import adbc_driver_postgresql.dbapi as pg
        import pandas as pd

        with pg.connect(PG_URI) as con:
            return pd.read_sql(sql, con)


def _duckdb_connect():  # type: ignore[no-untyped-def]
    import duckdb

    con = duckdb.connect()
    try:
        import duckdb_extensions

        duckdb_extensions.import_extension("postgres", con=con)
    except ImportError:
        con.execute("LOAD postgres")
    con.execute(f"ATTACH '{PG_URI}' AS pg (TYPE postgres, READ_ONLY)")
    return con


def one(engine: str, name: str, runs: int) -> dict[str, Any]:
    """Child process: run one query ``runs`` times on one engine."""
    from bench.queries import QUERIES

    q = next(x for x in QUERIES if x.name == name)
    times: list[float] = []
    extra: dict[str, Any] = {}
    if engine == "fedcdp":
        from federation import Workspace

        ws = Workspace.load(HERE / "workspace")
        for _ in range(runs):
            t0 = time.perf_counter()
            table = ws.query(q.fedcdp)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ws.plan(q.fedcdp)
        plan_s = time.perf_counter() - t0
        doc = ws.explain(q.fedcdp, analyze=True)
        extra = {
            "rows": table.num_rows,
            "fetched": {f["source"]: {"rows": 0, "bytes": 0} for f in doc["fragments"]},
            "own_seconds": plan_s + doc["analyze"]["arrow_seconds"],
            "fragments": [{"source": f["source"], "request": f["request"], **f["analyze"]} for f in doc["fragments"]],
        }
        for f in doc["fragments"]:
            extra["fetched"][f["source"]]["rows"] += f["analyze"]["rows"]
            extra["fetched"][f["source"]]["bytes"] += f["analyze"]["bytes"]
        ws.close()
    elif engine == "duckdb":
        con = _duckdb_connect()
        sql = q.duckdb.format(events=EVENTS)
        for _ in range(runs):
            t0 = time.perf_counter()
            res = con.sql(sql).arrow()  # Arrow, as fedcdp returns (fetchall needs pytz for timestamptz)
            rows = res.read_all() if hasattr(res, "read_all") else res
            times.append(time.perf_counter() - t0)
        extra = {"rows": rows.num_rows}
    elif engine == "pandas":
        src = PandasSources()
        for _ in range(runs):
            t0 = time.perf_counter()
            df = q.pandas(src)
            times.append(time.perf_counter() - t0)
        extra = {"rows": len(df)}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"engine": engine, "query": name, "times": times, "median": statistics.median(times),
            "peak_rss": peak, **extra}


def needed_rows() -> dict[str, dict[str, int]]:
    from bench.queries import QUERIES

    con = _duckdb_connect()
    return {q.name: {s: con.sql(sql.format(events=EVENTS)).fetchall()[0][0] for s, sql in q.needed.items()}
            for q in QUERIES}


def machine() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), "?")
    import duckdb
    import pyarrow
    import sqlglot

    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "pyarrow": pyarrow.__version__, "sqlglot": sqlglot.__version__, "duckdb": duckdb.__version__,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def report(results: list[dict[str, Any]], needed: dict[str, dict[str, int]], info: dict[str, Any]) -> str:
    by = {(r["engine"], r["query"]): r for r in results}
    names = list(dict.fromkeys(r["query"] for r in results))
    lines = ["# fedcdp bench", "", "Machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), "",
             "| query | fedcdp s | DuckDB s | pandas s | vs DuckDB | vs pandas | fetched rows (needed) | own time | peak RSS MB (fedcdp/duckdb/pandas) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n in names:
        f, d, p = by.get(("fedcdp", n)), by.get(("duckdb", n)), by.get(("pandas", n))
        fm = f["median"] if f else None
        ratio_d = f"{fm / d['median']:.2f}x" if f and d else "-"
        ratio_p = f"{p['median'] / fm:.1f}x faster" if f and p else "-"
        fetched = "; ".join(f"{s}: {v['rows']} ({needed.get(n, {}).get(s, '?')})" for s, v in (f or {}).get("fetched", {}).items())
        own = f"{100 * f['own_seconds'] / fm:.0f}%" if f and fm else "-"
        rss = "/".join(f"{r['peak_rss'] / 2**20:.0f}" if r else "-" for r in (f, d, p))
        lines.append(f"| {n} | {fm:.3f} | {d['median'] if d else float('nan'):.3f} | "
                     f"{p['median'] if p else float('nan'):.3f} | {ratio_d} | {ratio_p} | {fetched} | {own} | {rss} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fedcdp bench")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default=None)
    ap.add_argument("--engines", default="fedcdp,duckdb,pandas")
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "QUERY"))
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(one(args.child[0], args.child[1], args.runs), default=str))
        return 0
    from bench.queries import QUERIES

    results = []
    for q in QUERIES:
        if args.only and q.name != args.only:
            continue
        for engine in args.engines.split(","):
            proc = subprocess.run([sys.executable, "-m", "bench.run", "--runs", str(args.runs), "--child", engine, q.name],
                                  cwd=HERE.parent, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{engine} {q.name} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{q.name:24} {engine:7} median {r['median']:.3f} s  rows {r['rows']}", file=sys.stderr)
            results.append(r)
    info = machine()
    text = report(results, needed_rows(), info)
    out = HERE / "results" / dt.date.today().isoformat()
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"machine": info, "results": results}, indent=1, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
