"""Per-query overhead of the Spark engine on one machine: the bench queries on the
local Arrow engine and on Spark (Spark Connect), median of N runs each.

    python -m bench.spark_overhead [--remote sc://host:port | --start local-cluster[2,1,1024]] [--runs 3]

With ``--start`` a Spark Connect server is started for the run (and stopped by
its process id). The first Spark query of a session is reported separately
(Python workers start then); the medians are over warm runs.

What to expect, on paper: on one machine Spark adds a roughly constant cost per
query (planning over gRPC, one Python worker round trip per read task, the
Arrow hand-over into the JVM and back, a shuffle for each join or GROUP BY), so
small, selective queries are faster locally. Partitioned reads scale with
workers up to each source's ``max_parallel_partitions`` (a SQL source then
serves that many range queries at once; files split by file); joins and
aggregates over the fetched rows scale with executors through Spark's shuffle,
which is where Spark wins: fragments too large for one machine's memory, or
residual work (wide joins, windows) that needs many cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def start_server(master: str) -> tuple[subprocess.Popen[bytes], str]:
    import pyspark

    home = Path(pyspark.__file__).parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    cmd = [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
           "--master", master, "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.ui.enabled=false",
           "--conf", "spark.sql.shuffle.partitions=4", "spark-internal"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(240):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"sc://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    raise SystemExit("the Spark Connect server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def measure(remote: str, runs: int, only: str | None) -> list[dict[str, Any]]:
    from bench.queries import QUERIES
    from federation import Workspace
    from federation.engines import engine_for

    ws = Workspace.load(HERE / "workspace")
    spark = engine_for(ws.config, "spark", remote)
    out = []
    try:
        for q in QUERIES:
            if only and q.name != only:
                continue
            plan = ws.plan(q.fedcdp)
            t0 = time.perf_counter()
            spark.run(plan, ws.catalog)
            first = time.perf_counter() - t0
            row: dict[str, Any] = {"query": q.name, "spark_first": first}
            for name, run in (("local", lambda: ws.query(q.fedcdp)), ("spark", lambda: spark.run(ws.plan(q.fedcdp), ws.catalog))):
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - t0)
                row[name] = statistics.median(times)
            row["overhead"] = row["spark"] - row["local"]
            out.append(row)
            print(f"{q.name:28s} local {row['local']:7.3f} s  spark {row['spark']:7.3f} s  "
                  f"overhead {row['overhead']:+7.3f} s  (first spark run {first:.3f} s)", flush=True)
    finally:
        spark.close()
        ws.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--remote", help="Spark Connect address sc://host:port")
    p.add_argument("--start", metavar="MASTER", help="start a Spark Connect server with this master, e.g. local[2]")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--only", help="one bench query by name")
    args = p.parse_args(argv)
    if not args.remote and not args.start:
        p.error("give --remote or --start")
    from bench.queries import QUERIES

    with contextlib.ExitStack() as stack:
        if any(q.uses_crm for q in QUERIES if not args.only or q.name == args.only):
            from bench.crm import serving

            # before the Spark server starts: its Python workers read the CRM too and
            # find the emulator through the environment they inherit
            stack.enter_context(serving())
        proc = None
        remote = args.remote
        if args.start:
            proc, remote = start_server(args.start)
        try:
            rows = measure(remote, args.runs, args.only)
        finally:
            if proc is not None:
                stop_server(proc)
    if rows:
        print(f"median Spark overhead per query: {statistics.median(r['overhead'] for r in rows):.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
