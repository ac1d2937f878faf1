"""Incremental audience sync at 1M members: only changed rows are sent; time and memory.

    python -m bench.sync_bench [--members 1000000] [--changed 0.01] [--batch-size 1000]

Builds a SQLite source with ``--members`` customers, an audience delivering to a
loopback webhook, then runs (each phase in its own process, so peak RSS is the
phase's own): 1) the first sync (everything is new), 2) an incremental sync with
nothing changed, 3) an incremental sync after ``--changed`` of the rows changed.
Prints records sent, requests, seconds and peak RSS per phase (JSON too, with
--json). No timing is asserted anywhere; this is a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PHASE = r"""
import json, resource, sys, time
from federation import Workspace
from federation.sync.runner import run_sync
t0 = time.perf_counter()
with Workspace.load(sys.argv[1]) as ws:
    log = run_sync(ws, "all", batch_size=int(sys.argv[2]))
print(json.dumps({"seconds": round(time.perf_counter() - t0, 2), "sent": log.counts.get("delivered", 0),
                  "added": log.counts["added"], "changed": log.counts["changed"], "unchanged": log.counts["unchanged"],
                  "requests": log.requests, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def build(root: Path, members: int) -> None:
    (root / "data").mkdir(parents=True)
    con = sqlite3.connect(root / "data" / "shop.db")
    con.execute("CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, email TEXT, country TEXT, ltv REAL)")
    rng = random.Random(1)
    countries = ["DE", "FR", "US", "GB", "NL"]
    con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)",
                    ((i, f"user{i}@example.com", countries[i % 5], round(rng.uniform(0, 1000), 2)) for i in range(1, members + 1)))
    con.commit()
    con.close()


def change(root: Path, members: int, share: float) -> int:
    n = int(members * share)
    ids = random.Random(2).sample(range(1, members + 1), n)
    con = sqlite3.connect(root / "data" / "shop.db")
    con.executemany("UPDATE customers SET ltv = ltv + 1 WHERE customer_id = ?", ((i,) for i in ids))
    con.commit()
    con.close()
    return n


def receiver() -> tuple[object, str, list[int]]:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    counts: list[int] = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            counts.append(len(body["records"]))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/hook", counts


def phase(root: Path, batch: int) -> dict[str, object]:
    env = dict(os.environ, BENCH_HOOK_TOKEN="bench")
    out = subprocess.run([sys.executable, "-c", PHASE, str(root), str(batch)], env=env, cwd=REPO,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--changed", type=float, default=0.01)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cdp-sync-bench-"))
    t0 = time.perf_counter()
    build(root, args.members)
    srv, url, counts = receiver()
    (root / "workspace.yaml").write_text(textwrap.dedent(f"""\
        sources:
          shop: {{type: sqlite, path: data/shop.db}}
        segments:
          everyone: {{from: shop.customers}}
        audiences:
          all:
            segment: everyone
            key: customer_id
            fields: [customer_id, email, country, ltv]
            destination: {{type: webhook, url: "{url}", auth_env: BENCH_HOOK_TOKEN}}
        """))
    print(f"built {args.members:,} members in {time.perf_counter() - t0:.1f} s at {root}", file=sys.stderr)
    results = {"members": args.members, "batch_size": args.batch_size}
    results["first_sync"] = phase(root, args.batch_size)
    results["no_change"] = phase(root, args.batch_size)
    results["changed_rows"] = change(root, args.members, args.changed)
    before = sum(counts)
    results["one_percent_changed"] = phase(root, args.batch_size)
    results["records_received_last_phase"] = sum(counts) - before
    state = root / ".cdp" / "state" / "all" / "snapshot.arrow"
    results["state_file_mb"] = round(state.stat().st_size / 2**20, 1)
    srv.shutdown()  # type: ignore[attr-defined]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for k, v in results.items():
            print(f"{k:>28}: {v}")


if __name__ == "__main__":
    main()
