"""Run the bench: every query on fedcdp, DuckDB (federating the same PostgreSQL
and Parquet) and pandas; median of N runs, ratios, rows fetched, own time, RSS.

    python -m bench.run [--runs 5] [--only NAME,NAME] [--engines fedcdp,duckdb,pandas] [--out PATH]

Each (engine, query) runs in its own process so peak RSS is its own. A full run
writes bench/results/<date>.md and .json with the machine description; a run of
some queries (--only) writes bench/results/partial/<date>.* instead, so it never
replaces a full run's table.

Queries on the ``crm`` source read 100k HubSpot contacts from the HubSpot emulator,
which this process serves on loopback for the run (bench/crm.py; the contacts
file is generated when missing) at HubSpot's documented rate limits. DuckDB
cannot read HubSpot: those rows show n/a for DuckDB. After each process that
used the CRM the run waits for the emulator's rolling 10 s window to empty, so
one engine's requests do not throttle the next.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
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
CRM_CONTACTS = HERE / "data" / "crm" / "contacts.parquet"
PG_URI = os.environ.get("BENCH_PG_URI", "postgresql://postgres@127.0.0.1:5432/test")


class PandasSources:
    """How an analyst reads the sources: whole tables into DataFrames.

    HubSpot contacts come from paging the list API with httpx (100 a page, the
    ``after`` cursor, the properties named), sleeping on a 429 as its Retry-After
    says (1 s when absent, as the emulator and HubSpot's burst limit send none).
    ``http`` counts what that cost."""

    CRM_PROPERTIES = ("email", "firstname", "lastname", "country", "lifecyclestage", "hs_lead_status",
                      "hs_analytics_num_visits", "createdate", "lastmodifieddate")

    def __init__(self) -> None:
        self.http = {"requests": 0, "throttled": 0, "bytes": 0}

    def customers(self):  # type: ignore[no-untyped-def]
        return self._pg("SELECT * FROM bench.customers")

    def orders(self):  # type: ignore[no-untyped-def]
        return self._pg("SELECT * FROM bench.orders")

    def events(self):  # type: ignore[no-untyped-def]
        import pandas as pd

        return pd.read_parquet(EVENTS)

    def contacts(self):  # type: ignore[no-untyped-def]
        import httpx
        import pandas as pd

        url = os.environ.get("BENCH_HUBSPOT_URL", "http://127.0.0.1:8711")
        token = os.environ.get("BENCH_HUBSPOT_TOKEN", "bench-hubspot-token")
        params = {"limit": 100, "properties": ",".join(self.CRM_PROPERTIES)}
        rows = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            while True:
                r = client.get("/crm/v3/objects/contacts", params=params)
                self.http["requests"] += 1
                self.http["bytes"] += len(r.content)
                if r.status_code == 429:
                    self.http["throttled"] += 1
                    time.sleep(float(r.headers.get("Retry-After", 1)))
                    continue
                r.raise_for_status()
                page = r.json()
                rows += [{"id": int(x["id"]), **x["properties"]} for x in page["results"]]
                after = page.get("paging", {}).get("next", {}).get("after")
                if not after:
                    break
                params["after"] = after
        df = pd.DataFrame(rows, columns=["id", *self.CRM_PROPERTIES])
        df["hs_analytics_num_visits"] = pd.to_numeric(df.hs_analytics_num_visits)
        for col in ("createdate", "lastmodifieddate"):
            df[col] = pd.to_datetime(df[col], utc=True)
        return df

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
            "fetched": {f["source"]: {"rows": 0, "bytes": 0, "http_requests": None} for f in doc["fragments"]},
            "own_seconds": plan_s + doc["analyze"]["arrow_seconds"],
            "fragments": [{"source": f["source"], "request": f["request"], **f["analyze"]} for f in doc["fragments"]],
        }
        for f in doc["fragments"]:
            extra["fetched"][f["source"]]["rows"] += f["analyze"]["rows"]
            extra["fetched"][f["source"]]["bytes"] += f["analyze"]["bytes"]
            if "http" in f["analyze"]:  # API sources: requests this fragment sent (429 retries included)
                got = extra["fetched"][f["source"]]
                got["http_requests"] = (got["http_requests"] or 0) + int(f["analyze"]["http"].get("requests") or 0)
        ws.close()
    elif engine == "duckdb":
        if q.duckdb is None:
            raise SystemExit(f"{name}: DuckDB cannot read this query's sources")
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
        if src.http["requests"]:
            extra["http"] = dict(src.http)
    return {"engine": engine, "query": name, "times": times, "median": statistics.median(times),
            "peak_rss": peak_rss(), **extra}


def peak_rss() -> int:
    """This process's peak resident set, in bytes.

    Linux's VmHWM, not ru_maxrss: ru_maxrss keeps the parent's resident size at
    fork, and the parent holds the HubSpot emulator's 100k contacts."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def needed_rows(names: list[str]) -> dict[str, dict[str, int]]:
    from bench.queries import QUERIES

    con = _duckdb_connect()
    return {q.name: {s: con.sql(sql.format(events=EVENTS, crm=CRM_CONTACTS)).fetchall()[0][0] for s, sql in q.needed.items()}
            for q in QUERIES if q.name in names}


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


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _fetched(f: dict[str, Any] | None, needed: dict[str, int]) -> str:
    """Per source: rows fetched (rows the answer needs), Arrow bytes, HTTP requests for API sources."""
    parts = []
    kept: dict[str, int] = {}  # rows left after the in-Arrow key check (dynamic filter), per source
    for frag in (f or {}).get("fragments", []):
        d = frag.get("dynamic_filter") or {}
        kept[frag["source"]] = kept.get(frag["source"], 0) + (d["rows_kept"] if d.get("in_stream") else frag["rows"])
    for s, v in (f or {}).get("fetched", {}).items():
        rows = f"{v['rows']}" if kept.get(s, v["rows"]) == v["rows"] else f"{v['rows']} read, {kept[s]} kept"
        text = f"{s}: {rows} ({needed.get(s, '?')}), {_size(v.get('bytes', 0))}"
        if v.get("http_requests") is not None:
            text += f", {v['http_requests']} HTTP req"
        parts.append(text)
    return "; ".join(parts)


def report(results: list[dict[str, Any]], needed: dict[str, dict[str, int]], info: dict[str, Any],
           notes: list[str] | None = None) -> str:
    from bench.queries import QUERIES

    by = {(r["engine"], r["query"]): r for r in results}
    names = list(dict.fromkeys(r["query"] for r in results))
    no_duckdb = {q.name for q in QUERIES if q.duckdb is None}
    lines = ["# fedcdp bench", "", "Machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), "",
             "| query | fedcdp s | DuckDB s | pandas s | vs DuckDB | vs pandas | fetched per source: rows (needed), bytes, HTTP requests | own time | peak RSS MB (fedcdp/duckdb/pandas) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n in names:
        f, d, p = by.get(("fedcdp", n)), by.get(("duckdb", n)), by.get(("pandas", n))
        fm = f["median"] if f else None
        ratio_d = "n/a" if n in no_duckdb else f"{fm / d['median']:.2f}x" if f and d else "-"
        ratio_p = f"{p['median'] / fm:.1f}x faster" if f and p else "-"
        own = f"{100 * f['own_seconds'] / fm:.0f}%" if f and fm else "-"
        rss = "/".join(f"{r['peak_rss'] / 2**20:.0f}" if r else ("n/a" if i == 1 and n in no_duckdb else "-")
                       for i, r in enumerate((f, d, p)))
        cell = "n/a" if n in no_duckdb else f"{d['median']:.3f}" if d else "-"
        fcell, pcell = (f"{r['median']:.3f}" if r else "-" for r in (f, p))
        lines.append(f"| {n} | {fcell} | {cell} | {pcell} | {ratio_d} | {ratio_p} | {_fetched(f, needed.get(n, {})) or '-'} | "
                     f"{own} | {rss} |")
    extra = list(notes or [])
    extra += _crawl_notes([r for r in results if r["engine"] == "pandas" and r.get("http")])
    if extra:
        lines += [""] + [f"- {t}" for t in extra]
    return "\n".join(lines) + "\n"


def _crawl_notes(crawls: list[dict[str, Any]]) -> list[str]:
    """What the pandas baseline's HubSpot crawls cost per run, and the floor the burst limit sets."""
    if not crawls:
        return []
    from bench.crm import LIMITS

    per = []
    for r in crawls:
        runs, h = len(r["times"]), r["http"]
        pages = (h["requests"] - h["throttled"]) / runs
        floor = (math.ceil(pages / LIMITS["burst_max"]) - 1) * LIMITS["burst_seconds"]
        per.append(f"{r['query']}: {h['requests'] / runs:.0f} requests ({h['throttled'] / runs:.0f} answered 429), "
                   f"{_size(h['bytes'] / runs)} of JSON; {pages:.0f} pages at {LIMITS['burst_max']} requests per "
                   f"{LIMITS['burst_seconds']:g} s cannot take less than {floor:.0f} s")
    return ["pandas reads HubSpot as an analyst would, paging the list API with httpx (GET /crm/v3/objects/contacts, "
            "100 a page, sleeping 1 s on a 429), per run: " + "; ".join(per) + ". fedcdp sends its searches at "
            "4.5/s (the connector's default, 10 % under HubSpot's 5/s), so a query costing n searches waits about n/4.5 s."]


def _child(engine: str, name: str, runs: int) -> dict[str, Any] | None:
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--runs", str(runs), "--child", engine, name],
                          cwd=HERE.parent, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{engine} {name} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    r: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name:24} {engine:7} median {r['median']:.3f} s  rows {r['rows']}", file=sys.stderr)
    return r


def main(argv: list[str] | None = None) -> int:
    from bench.queries import QUERIES

    ap = argparse.ArgumentParser(description="fedcdp bench: each query on fedcdp, DuckDB and pandas")
    ap.add_argument("--runs", type=int, default=5, help="runs per (engine, query); the table shows the median")
    ap.add_argument("--only", default=None, metavar="NAME,NAME",
                    help="run only these queries (comma-separated): " + ", ".join(q.name for q in QUERIES))
    ap.add_argument("--engines", default="fedcdp,duckdb,pandas")
    ap.add_argument("--out", type=Path, default=None,
                    help="results path without suffix (default bench/results/<date>, or bench/results/partial/<date> with --only)")
    ap.add_argument("--report", type=Path, default=None, metavar="JSON",
                    help="only write the table again from a saved results JSON (its .md beside it)")
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "QUERY"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(one(args.child[0], args.child[1], args.runs), default=str))
        return 0
    if args.report:
        saved = json.loads(args.report.read_text())
        names = list(dict.fromkeys(r["query"] for r in saved["results"]))
        needed = saved.get("needed") or needed_rows(names)
        text = report(saved["results"], needed, saved["machine"], saved.get("notes"))
        args.report.with_suffix(".md").write_text(text)
        print(text)
        return 0
    wanted = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else [q.name for q in QUERIES]
    unknown = [n for n in wanted if n not in {q.name for q in QUERIES}]
    if unknown:
        ap.error(f"--only: no query named {', '.join(unknown)}; the queries are {', '.join(q.name for q in QUERIES)}")
    selected = [q for q in QUERIES if q.name in wanted]
    engines = [e.strip() for e in args.engines.split(",")]
    with contextlib.ExitStack() as stack:
        emu = None
        if any(q.uses_crm for q in selected):
            from bench.crm import serving

            emu = stack.enter_context(serving(CRM_CONTACTS))
        results = []
        crm_done = -math.inf  # when the last process that used the CRM ended
        for q in selected:
            for engine in engines:
                if engine == "duckdb" and q.duckdb is None:
                    continue  # DuckDB cannot read HubSpot: n/a in the table
                if q.uses_crm and emu is not None:
                    # let the rolling window empty, so the previous engine's requests do not throttle this one
                    time.sleep(max(0.0, emu.burst_seconds - (time.monotonic() - crm_done)))
                r = _child(engine, q.name, args.runs)
                if q.uses_crm:
                    crm_done = time.monotonic()
                if r is not None:
                    results.append(r)
        notes = []
        if emu is not None:
            from bench.crm import limits_text

            notes.append(limits_text(emu))
    info = machine()
    needed = needed_rows([q.name for q in selected])
    text = report(results, needed, info, notes)
    out = args.out or (HERE / "results" / ("partial" if args.only else "") / dt.date.today().isoformat())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"machine": info, "results": results, "notes": notes, "needed": needed},
                                                  indent=1, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
