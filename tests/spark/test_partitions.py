"""Partitioned reads (connectors/partitions.py), without Spark: the union of the
slices is the unpartitioned read (NULL keys and boundaries included), never more
slices than max_parallel_partitions, CRM slices share the account's rate budget."""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlglot import exp

from connectors.base import ScanRequest
from connectors.partitions import FilePartition, plan_partitions
from federation import Workspace


def _rows(conn, requests) -> Counter:  # type: ignore[no-untyped-def]
    out: Counter = Counter()
    for r in requests:
        out.update(tuple(sorted(row.items())) for row in conn.scan(r).read_all().to_pylist())
    return out


@pytest.fixture()
def lite(tmp_path: Path) -> Workspace:
    con = sqlite3.connect(tmp_path / "k.db")
    con.execute("CREATE TABLE t (id INTEGER, v TEXT)")
    # NULL keys, duplicates, and keys right on the range boundaries of 4 slices of [0, 99]
    rows = [(None, "n1"), (None, "n2")] + [(i, f"v{i}") for i in range(100)] + [(25, "dup"), (50, "dup"), (99, "dup")]
    con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    con.commit()
    con.close()
    (tmp_path / "sources.yaml").write_text("sources:\n  lite: {type: sqlite, path: k.db, max_parallel_partitions: 4}\n")
    return Workspace.load(tmp_path, env={})


def test_sql_key_ranges_union_equals_whole_read(lite: Workspace) -> None:
    conn = lite.connector("lite")
    req = ScanRequest(output_names=("id", "v"), table="t", columns=("id", "v"))
    parts = plan_partitions(conn, "sqlite", req, lite.config.sources["lite"].options)
    assert parts.method == "key_range" and parts.column == "id"
    assert len(parts.requests) == 4
    assert parts.bounds == (25, 50, 75)
    assert _rows(conn, parts.requests) == _rows(conn, [req])
    first = parts.requests[0].filters[-1].sql(dialect="postgres")
    assert first == "(id < 25 OR id IS NULL)"
    sql = conn.native_request(parts.requests[2])[0].text
    assert "50" in sql and "75" in sql


def test_sql_ranges_keep_the_fragment_filters(lite: Workspace) -> None:
    conn = lite.connector("lite")
    where = exp.condition("v <> 'dup'")
    req = ScanRequest(output_names=("id",), table="t", columns=("id",), filters=(where,))
    parts = plan_partitions(conn, "sqlite", req, {"max_parallel_partitions": 3})
    assert len(parts.requests) == 3
    assert all(where in r.filters for r in parts.requests)
    assert _rows(conn, parts.requests) == _rows(conn, [req])


def test_never_more_than_declared_and_not_split_when_meaning_changes(lite: Workspace) -> None:
    conn = lite.connector("lite")
    req = ScanRequest(output_names=("id",), table="t", columns=("id",))
    assert len(plan_partitions(conn, "sqlite", req, {"max_parallel_partitions": 1}).requests) == 1
    assert len(plan_partitions(conn, "sqlite", req, {"max_parallel_partitions": 8}, wanted=2).requests) == 2
    limited = plan_partitions(conn, "sqlite", replace(req, limit=5), {"max_parallel_partitions": 4})
    assert len(limited.requests) == 1 and "LIMIT" in (limited.reason or "")
    q = exp.select("count(*)").from_("t")
    whole = plan_partitions(conn, "sqlite", ScanRequest(output_names=("n",), query=q), {"max_parallel_partitions": 4})
    assert len(whole.requests) == 1 and "whole query" in (whole.reason or "")


def test_files_split_by_file(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    for i in range(5):
        pq.write_table(pa.table({"k": [i * 10 + j for j in range(10)]}), tmp_path / "ev" / f"p{i}.parquet")
    (tmp_path / "sources.yaml").write_text("sources:\n  ev: {type: parquet, path: ev, table: ev, max_parallel_partitions: 3}\n")
    ws = Workspace.load(tmp_path, env={})
    conn = ws.connector("ev")
    req = ScanRequest(output_names=("k",), table="ev", columns=("k",), filters=(exp.condition("k >= 5"),))
    parts = plan_partitions(conn, "parquet", req, ws.config.sources["ev"].options)
    assert parts.method == "files" and len(parts.requests) == 3
    assert all(isinstance(r.partition, FilePartition) for r in parts.requests)
    assert sum(len(r.partition.files) for r in parts.requests) == 5  # type: ignore[union-attr]
    assert _rows(conn, parts.requests) == _rows(conn, [req])
    ws.close()


def test_crm_key_ranges_share_the_rate_budget(hubspot_factory) -> None:  # type: ignore[no-untyped-def]
    conn, emu = hubspot_factory(contacts=120)
    table = "contacts"
    cols = ("id", "email")
    req = ScanRequest(output_names=cols, table=table, columns=cols)
    options = {"max_parallel_partitions": 3, "rate_limit": 9.0}
    parts = plan_partitions(conn, "hubspot", req, options)
    assert parts.method == "key_range" and len(parts.requests) == 3
    # each of the 3 tasks may use a third of the account's budget
    assert parts.option_overrides == {"rate_limit": 3.0, "search_rate_limit": 1.5}
    assert sum(parts.option_overrides.values()) * 3 == pytest.approx(9.0 + 4.5)
    assert _rows(conn, parts.requests) == _rows(conn, [req])
    capped = plan_partitions(conn, "hubspot", req, {"max_parallel_partitions": 2})
    assert len(capped.requests) == 2 and capped.option_overrides == {"rate_limit": 5.0, "search_rate_limit": 2.25}


def test_planned_sql_scan_is_split_in_its_where(lite: Workspace) -> None:
    conn = lite.connector("lite")
    options = lite.config.sources["lite"].options
    (frag,) = lite.plan("SELECT id, v FROM lite.t WHERE v <> 'dup'").fragments
    assert frag.request.query is not None  # SQL sources get a SELECT even for a plain scan
    parts = plan_partitions(conn, "sqlite", frag.request, options)
    assert parts.method == "key_range" and len(parts.requests) == 4
    sqls = [conn.native_request(r)[0].text for r in parts.requests]
    assert all("<> 'dup'" in s for s in sqls) and "IS NULL" in sqls[0]
    assert _rows(conn, parts.requests) == _rows(conn, [frag.request])
    (agg,) = lite.plan("SELECT v, count(*) AS n FROM lite.t GROUP BY v").fragments
    assert len(plan_partitions(conn, "sqlite", agg.request, options).requests) == 1
