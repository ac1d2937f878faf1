"""The Spark engine's contract, on a 2-executor local cluster behind Spark Connect:
partitioned reads spread over worker processes, explain, only filtered requests
at the sources, no filter carry-over between queries, secrets never shipped,
failures as one SourceError, nothing left behind, version checks."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from federation import Workspace
from federation.engines import engine_for
from federation.engines.spark.engine import merge_explain
from federation.engines.spark.session import check_versions
from federation.errors import SourceError, UserError
from tests.spark.conftest import HUBSPOT_TOKEN

N = 1000


@pytest.fixture(scope="module")
def setup(spark_server, pg_uri, pg_schema, tmp_path_factory):  # type: ignore[no-untyped-def]
    import adbc_driver_postgresql.dbapi as pgdb

    from connectors.crm.http import reset_buckets
    from connectors.emulators.hubspot import HubSpotEmulator

    reset_buckets()
    root = tmp_path_factory.mktemp("spark_ws")
    con = sqlite3.connect(root / "lite.db")
    con.execute("CREATE TABLE t (id INTEGER, v TEXT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i % 7}") for i in range(N)])
    con.commit()
    con.close()
    (root / "ev").mkdir()
    for i in range(4):
        pq.write_table(pa.table({"k": list(range(i * 250, (i + 1) * 250))}), root / "ev" / f"part{i}.parquet")
    with pgdb.connect(pg_uri) as pgc, pgc.cursor() as cur:
        cur.adbc_ingest("people", pa.table({"id": list(range(200)), "age": [i % 90 for i in range(200)]}),
                        mode="create", db_schema_name=pg_schema)
        pgc.commit()
    emu = HubSpotEmulator(contacts=120, token=HUBSPOT_TOKEN, search_per_second=10_000, burst_max=100_000).start()
    (root / "sources.yaml").write_text(
        "sources:\n"
        "  lite: {type: sqlite, path: lite.db, max_parallel_partitions: 4}\n"
        "  ev: {type: parquet, path: ev, table: ev, max_parallel_partitions: 4}\n"
        f"  wh: {{type: postgresql, uri: '${{TEST_PG_URI}}', db_schema: {pg_schema}, max_parallel_partitions: 2}}\n"
        f"  crm: {{type: hubspot, base_url: '{emu.url}', token: '${{SPARK_TEST_TOKEN}}', max_parallel_partitions: 3,"
        " rate_limit: 10000, search_rate_limit: 10000, estimate_rows: false}\n"
        f"  fragile: {{type: hubspot, base_url: '{emu.url}', token: '${{SPARK_TEST_TOKEN}}', max_parallel_partitions: 3,"
        " rate_limit: 10000, search_rate_limit: 10000, estimate_rows: false, retry_budget: 0, search_page_size: 10}\n"
        f"  bad: {{type: postgresql, uri: '${{ONLY_ON_THE_CLIENT_URI}}', db_schema: {pg_schema}}}\n"
    )
    env = {"TEST_PG_URI": pg_uri, "SPARK_TEST_TOKEN": HUBSPOT_TOKEN, "ONLY_ON_THE_CLIENT_URI": pg_uri}
    ws = Workspace.load(root, env=env)
    engine = engine_for(ws.config, "spark", spark_server.remote)
    yield ws, engine, emu, spark_server
    engine.close()
    ws.close()
    emu.stop()


def _run(ws, engine, sql: str) -> pa.Table:  # type: ignore[no-untyped-def]
    return engine.run(ws.plan(sql), ws.catalog)


def _our_views(engine) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.name for t in engine.spark.catalog.listTables() if t.name.startswith("fedcdp_")]


def test_four_partitions_run_four_tasks_in_two_processes(setup) -> None:  # type: ignore[no-untyped-def]
    ws, engine, _emu, server = setup
    for f in server.trace.iterdir():
        f.unlink()
    got = _run(ws, engine, "SELECT id, v FROM lite.t WHERE id >= 10")
    assert sorted(got.column("id").to_pylist()) == list(range(10, N))
    lines = [line.split() for f in server.trace.iterdir() for line in f.read_text().splitlines()]
    lite = [(pid, idx) for pid, src, idx in lines if src == "lite"]
    assert sorted(idx for _pid, idx in lite) == ["0", "1", "2", "3"]
    assert len({pid for pid, _idx in lite}) >= 2
    assert _our_views(engine) == []


def test_explain_shows_native_requests_partitions_and_spark_sql(setup) -> None:  # type: ignore[no-untyped-def]
    ws, engine, _emu, _server = setup
    sql = "SELECT t.v, count(*) AS n FROM lite.t AS t JOIN wh.people AS p ON p.id = t.id WHERE p.age > 30 GROUP BY t.v"
    local = ws.explain(sql)
    doc = merge_explain(json.loads(json.dumps(local)), engine.explain(ws.plan(sql), ws.catalog))
    assert [f["request"] for f in doc["fragments"]] == [f["request"] for f in local["fragments"]]
    by_source = {f["source"]: f for f in doc["fragments"]}
    assert by_source["lite"]["partitions"]["count"] == 4
    wh = by_source["wh"]["partitions"]
    assert wh["count"] == 2 and wh["method"] == "key_range"
    for slice_requests in wh["requests"]:  # every statement PostgreSQL receives is filtered
        assert "WHERE" in slice_requests[0]["sql"] and "30" in slice_requests[0]["sql"]
    assert "fedcdp_<query>_f" in doc["spark"]["sql"] and "GROUP BY" in doc["spark"]["sql"]
    assert doc["engine"]["kind"] == "spark"
    got = _run(ws, engine, sql)
    assert sorted(got.to_pylist(), key=repr) == sorted(ws.query(sql).to_pylist(), key=repr)


def test_crm_partitions_send_only_filtered_requests(setup) -> None:  # type: ignore[no-untyped-def]
    ws, engine, emu, _server = setup
    sql = "SELECT id, email FROM crm.contacts WHERE id >= 5"
    want = ws.query(sql)
    emu.clear_log()
    got = _run(ws, engine, sql)
    assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr)
    reads = [r for r in emu.log if "/objects/" in r.path]
    assert reads, "the executors reached the emulator"
    for r in reads:  # no unfiltered list reads: every read is a search with the id filter
        assert r.method == "POST" and r.path.endswith("/search"), (r.method, r.path)
        assert "id" in json.dumps(r.body) and r.body.get("filterGroups"), r.body


def test_no_filter_carry_over_between_queries(setup) -> None:  # type: ignore[no-untyped-def]
    ws, engine, _emu, _server = setup
    seq = ["SELECT count(*) AS n FROM ev.ev", "SELECT count(*) AS n FROM ev.ev WHERE k < 9", "SELECT count(*) AS n FROM ev.ev"]
    assert [_run(ws, engine, q).column("n")[0].as_py() for q in seq] == [N, 9, N]
    lite = [q.replace("ev.ev", "lite.t").replace("k <", "id <") for q in seq]
    assert [_run(ws, engine, q).column("n")[0].as_py() for q in lite] == [N, 9, N]

    def sequence(queries: list[str]) -> list[int]:
        return [_run(ws, engine, q).column("n")[0].as_py() for q in queries]

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(sequence, seq), pool.submit(sequence, list(reversed(lite)))
        assert a.result() == [N, 9, N] and b.result() == [N, 9, N]
    assert _our_views(engine) == []


def test_secrets_never_travel_or_log(setup) -> None:  # type: ignore[no-untyped-def]
    ws, engine, _emu, server = setup
    sql = "SELECT id FROM crm.contacts WHERE id > 3"
    plan = ws.plan(sql)
    (prep,) = engine.prepare(plan, ws.catalog)
    options = engine.options(prep)
    assert "${SPARK_TEST_TOKEN}" in options["fedcdp.source"]
    assert HUBSPOT_TOKEN not in json.dumps(options)
    doc = merge_explain(ws.explain(sql), engine.explain(plan, ws.catalog))
    assert HUBSPOT_TOKEN not in json.dumps(doc, default=str)
    assert len(_run(ws, engine, sql)) > 0
    assert HUBSPOT_TOKEN not in server.log.read_text(errors="replace")


def test_source_failing_in_a_partition_is_one_source_error(setup) -> None:  # type: ignore[no-untyped-def]
    ws, engine, _emu, _server = setup
    # the client resolves ${ONLY_ON_THE_CLIENT_URI}; the executors do not have it
    with pytest.raises(SourceError) as e:
        _run(ws, engine, "SELECT id FROM bad.people WHERE id > 1")
    text = str(e.value)
    assert e.value.exit_code == 3
    assert text.startswith("source 'bad': cannot be configured on the Spark executor")
    assert "ONLY_ON_THE_CLIENT_URI is not set" in text
    assert "org.apache" not in text and "Traceback" not in text
    # what `--verbose` prints (the traceback) carries Spark's own error as the cause
    import traceback

    assert e.value.__cause__ is not None
    assert "The above exception was the direct cause" in "".join(traceback.format_exception(e.value))
    assert _our_views(engine) == []


def test_version_mismatch_is_a_clear_error(setup) -> None:  # type: ignore[no-untyped-def]
    ws, engine, _emu, _server = setup
    engine.version = "0.0.0-elsewhere"
    try:
        with pytest.raises(UserError, match=r"fedcdp on the Spark cluster is \S+, the client is 0.0.0-elsewhere"):
            _run(ws, engine, "SELECT id FROM lite.t WHERE id < 3")
    finally:
        engine.version = None
    with pytest.raises(UserError, match="the Spark Connect client is 4.3.0 but the Spark server is 3.5.1"):
        check_versions("4.3.0", "3.5.1")


def test_a_retried_partition_does_not_duplicate_rows(setup) -> None:  # type: ignore[no-untyped-def]
    ws, engine, emu, server = setup
    sql = "SELECT id, email FROM fragile.contacts WHERE id > 2"
    lost_before = server.log.read_text(errors="replace").count("Lost task")
    want = ws.query(sql)
    emu.clear_log()
    stop = threading.Event()

    def inject() -> None:  # one HTTP 500 once the partitions are paging (rows already read)
        while not stop.is_set():
            if len(emu.log) >= 4:
                emu.fail_500(1)
                return
            time.sleep(0.005)

    thread = threading.Thread(target=inject)
    thread.start()
    try:
        got = _run(ws, engine, sql)
    finally:
        stop.set()
        thread.join()
        emu.clear_faults()
    assert any(r.status == 500 for r in emu.log)
    # the slice failed (retry_budget: 0) and Spark ran it again (spark.task.maxFailures=2)
    assert server.log.read_text(errors="replace").count("Lost task") > lost_before
    ids = got.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == want.num_rows
    assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr)
