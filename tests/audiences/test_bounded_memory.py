"""Audiences over a merged profile stream with bounded memory (federation/partitioned.py).

The demo's audiences and segments give the same rows streamed as whole; and on a
merged profile of 300k records per source, consuming ``batches()`` peaks at well
under half the Arrow memory of ``to_arrow()`` (each measured in a fresh process:
the pool's high-water mark cannot be reset).
"""

from __future__ import annotations

import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from federation import Workspace
from federation.partitioned import partitioning
from federation.stream import streamable
from models.audiences import audience_names, get_audience
from models.segments import get_segment, segment_names
from tests.cli.conftest import copy_demo_workspace
from tests.federation.oracle import assert_same_rows

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2025-12-31"  # the demo data ends there (configs/segments.yaml)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from cli.demo_data import build

    root = copy_demo_workspace(tmp_path_factory.mktemp("demo") / "ws")
    build(root / "data")
    with Workspace.load(root) as ws:
        yield ws


@pytest.mark.parametrize("rows", [None, 150])  # the default partition size, and many small partitions
def test_demo_audiences_stream_the_rows_of_to_arrow(demo: Workspace, rows: int | None) -> None:
    demo.partition_rows = rows
    names = audience_names(demo)
    assert names
    for name in names:
        aud = get_audience(demo, name, AS_OF)
        plan = demo.plan(aud.sql)
        # merged profiles: not a pipeline, but key-partitionable
        assert streamable(plan, demo.catalog) is None and partitioning(plan, demo.catalog) is not None, name
        read: dict[str, int] = {}
        got = [r for b in aud.batches(read=read) for r in b.to_pylist()]
        assert_same_rows(got, aud.to_arrow().to_pylist(), ordered=False)
        assert set(read) == {f.source for f in plan.fragments} and all(read.values()), read


def test_demo_segments_stream_the_rows_of_run(demo: Workspace) -> None:
    demo.partition_rows = 100
    for name in segment_names(demo):
        seg = get_segment(demo, name, AS_OF)
        assert_same_rows(seg.batches().read_all(), seg.run().to_pylist(), ordered=False)


# -- memory --------------------------------------------------------------------------------------

def build_profile_workspace(root: Path, n: int, seed: int = 5, newsletter: str = "csv") -> Path:
    """A shop (SQLite) and a newsletter (CSV, or Parquet in row groups of 64k) with ``n``
    records each, merged on the normalised email: half the emails in both, case and
    whitespace variants, some sign-ups repeated, a few shop rows without email."""
    rng = random.Random(seed)
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    countries = ["DE", "FR", "US", "GB", None]

    def variant(email: str) -> str:
        r = rng.random()
        return email.upper() if r < 0.1 else (f"  {email} " if r < 0.15 else email)

    con = sqlite3.connect(data / "shop.db")
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, "
                "country TEXT, vip INTEGER, signup_date TEXT)")
    con.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?,?)", (
        (i, None if rng.random() < 0.02 else variant(f"user{i}@example.com"), f"First{i % 997}", f"Last{i % 991}",
         countries[i % 5], i % 7 == 0, f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}") for i in range(1, n + 1)))
    con.commit()
    con.close()
    with (data / "signups.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "country", "opt_in", "subscribed_at"])
        for j in range(n):
            i = n // 2 + j if rng.random() < 0.9 else rng.randint(1, 2 * n)
            out.writerow([variant(f"user{i}@example.com"), f"News{i % 113}", "" if j % 3 == 0 else countries[j % 4],
                          "true" if j % 5 else "false", f"2025-{1 + j % 12:02d}-{1 + j % 28:02d}T10:00:00Z"])
    if newsletter == "parquet":
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        pq.write_table(pacsv.read_csv(data / "signups.csv"), data / "signups.parquet", row_group_size=65_536)
        (data / "signups.csv").unlink()
    (root / "sources.yaml").write_text(textwrap.dedent(f"""
        sources:
          shop: {{type: sqlite, path: data/shop.db}}
          newsletter: {{type: {newsletter}, path: data/signups.{newsletter}, table: signups}}
    """))
    (root / "entities.yaml").write_text(textwrap.dedent("""
        entities:
          customers:
            key: email
            merge:
              - from: shop.customers
                unique: true
                fields: {email: "lower(trim(email))", shop_id: id, first_name: first_name, last_name: last_name,
                         country: country, vip: vip, signup_date: signup_date}
              - from: newsletter.signups
                updated_at: subscribed_at
                fields: {email: "lower(trim(email))", first_name: first_name, country: "nullif(country, '')",
                         marketing_opt_in: opt_in, subscribed_at: subscribed_at}
            pii: [email, first_name, last_name]
    """))
    (root / "segments.yaml").write_text("segments:\n  everyone: {from: customers}\n")
    (root / "audiences.yaml").write_text(textwrap.dedent("""
        audiences:
          everyone_export:
            segment: everyone
            key: email
            fields: [email, first_name, last_name, country, shop_id, marketing_opt_in]
            destination: {type: csv, path: out/everyone.csv}
    """))
    return root


MEASURE = """
import json, sys
import pyarrow as pa
from federation import Workspace
with Workspace.load(sys.argv[1]) as ws:
    aud = ws.audience("everyone_export")
    if sys.argv[2] == "to_arrow":
        rows = aud.to_arrow().num_rows
    else:
        rows = sum(b.num_rows for b in aud.batches())
print(json.dumps({"rows": rows, "peak": pa.default_memory_pool().max_memory()}))
"""


def measure(root: Path, how: str) -> dict[str, int]:
    """Rows and the Arrow pool's peak bytes of one way of reading the audience, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", MEASURE, str(root), how], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_batches_peak_memory_is_well_below_to_arrow(tmp_path: Path) -> None:
    root = build_profile_workspace(tmp_path / "ws", 300_000)
    whole = measure(root, "to_arrow")
    streamed = measure(root, "batches")
    print(f"\n300k records per source, {whole['rows']} profiles: to_arrow peak {whole['peak'] / 1e6:.0f} MB, "
          f"batches peak {streamed['peak'] / 1e6:.0f} MB")
    assert streamed["rows"] == whole["rows"] > 300_000
    assert streamed["peak"] < whole["peak"] / 2
