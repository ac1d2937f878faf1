"""The read-only guarantee.

1. Anything but one query is rejected before planning (no source is contacted:
   the workspace's PostgreSQL is unreachable and the error is still exit 1).
2. PostgreSQL fragments run inside READ ONLY transactions: a view whose column
   calls a function that INSERTs fails with PostgreSQL's read-only error.
3. No generated request writes: the oracle query set leaves PostgreSQL's
   insert/update/delete counters and the SQLite/CSV files' bytes unchanged, and
   the CRM emulators only see reads (GET; POST only to search/query endpoints).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation import Workspace
from federation.errors import CdpError, NotReadOnlyError, QueryError, SourceError, UnsupportedError
from tests.robustness.conftest import CRMS, CrmWorkspace, cdp

NOT_QUERIES = [
    ("INSERT INTO wh.customers (id) VALUES (1)", "this is an INSERT statement"),
    ("UPDATE wh.customers SET age = 1", "this is an UPDATE statement"),
    ("DELETE FROM wh.customers", "this is a DELETE statement"),
    ("MERGE INTO wh.customers t USING wh.orders o ON t.id = o.id WHEN MATCHED THEN DELETE", "MERGE statement"),
    ("DROP TABLE wh.customers", "this is a DROP statement"),
    ("CREATE TABLE wh.x (a int)", "this is a CREATE statement"),
    ("CREATE TEMP TABLE t AS SELECT 1", "this is a CREATE statement"),
    ("ALTER TABLE wh.customers ADD COLUMN z int", "this is an ALTER statement"),
    ("TRUNCATE wh.customers", "this is a TRUNCATE statement"),
    ("GRANT ALL ON wh.customers TO public", "this is a GRANT statement"),
    ("COMMENT ON TABLE wh.customers IS 'x'", "this is a COMMENT statement"),
    ("SELECT 1; DROP TABLE wh.customers", "expected exactly one query, got 2 statements"),
    ("SELECT id FROM wh.customers; SELECT 2", "got 2 statements"),
    ("WITH d AS (DELETE FROM wh.customers RETURNING id) SELECT * FROM d", "contains a DELETE"),
    ("WITH u AS (UPDATE wh.customers SET age = 1 RETURNING id) SELECT * FROM u", "contains an UPDATE"),
    ("WITH i AS (INSERT INTO wh.customers (id) VALUES (1) RETURNING id) SELECT * FROM i", "contains an INSERT"),
    ("SELECT * INTO wh.copy FROM wh.customers", "contains an INTO"),
    ("SELECT * FROM wh.customers FOR UPDATE", "FOR UPDATE/SHARE lock"),
    ("COPY wh.customers TO '/tmp/x'", "this is a COPY statement"),
    ("COPY (SELECT 1) TO STDOUT", "this is a COPY statement"),
    ("CALL wh.do_it()", "this is a CALL statement"),
    ("DO $$ BEGIN DELETE FROM x; END $$", "this is a DO statement"),
    ("SET search_path = evil", "this is a SET statement"),
    ("SET LOCAL transaction_read_only = off", "this is a SET statement"),
    ("RESET ALL", "this is a RESET statement"),
    ("BEGIN", "this is a BEGIN statement"),
    ("COMMIT", "this is a COMMIT statement"),
    ("ROLLBACK", "this is a ROLLBACK statement"),
    ("PREPARE p AS DELETE FROM x", "this is a PREPARE statement"),
    ("EXECUTE p", "this is an EXECUTE statement"),
    ("EXPLAIN ANALYZE DELETE FROM wh.customers", "this is an EXPLAIN statement"),
    ("VACUUM", "this is a VACUUM statement"),
    ("LOCK TABLE wh.customers", "this is a LOCK statement"),
    ("LISTEN x", "this is a LISTEN statement"),
    ("REFRESH MATERIALIZED VIEW wh.v", "this is a REFRESH statement"),
]


@pytest.fixture(scope="module")
def dead_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A workspace whose only source cannot be reached: any contact would be exit 3."""
    root = tmp_path_factory.mktemp("dead")
    (root / "sources.yaml").write_text("sources:\n  wh: {type: postgresql, uri: '${DEAD_URI}'}\n")
    return root, {"DEAD_URI": "postgresql://postgres@127.0.0.1:1/none"}


@pytest.mark.parametrize("sql,message", NOT_QUERIES, ids=[f"s{i}" for i in range(len(NOT_QUERIES))])
def test_not_a_query_is_rejected_before_planning(dead_ws: tuple[Path, dict[str, str]], sql: str, message: str) -> None:
    root, env = dead_ws
    with Workspace.load(root, env=env) as ws:
        with pytest.raises(NotReadOnlyError) as info:
            ws.query(sql)
        assert message in info.value.message and info.value.exit_code == 1
        with pytest.raises(NotReadOnlyError):
            ws.explain(sql)


@pytest.mark.parametrize("index", [0, 6, 11, 13, 17, 19, 20, 22, 25])
def test_cli_rejects_not_a_query_with_exit_1(dead_ws: tuple[Path, dict[str, str]], index: int) -> None:
    root, env = dead_ws
    sql, message = NOT_QUERIES[index]
    r = cdp("query", "-w", str(root), sql, env=env)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("Error: ") and message in r.stderr
    assert "Traceback" not in r.stderr and "unsupported syntax" not in r.stderr  # no sqlglot log line
    assert r.stdout == ""


def _pg(uri: str, *statements: str) -> list[tuple[Any, ...]]:
    import adbc_driver_postgresql.dbapi as pg

    out: list[tuple[Any, ...]] = []
    with pg.connect(uri, autocommit=True) as con, con.cursor() as cur:
        for s in statements:
            cur.execute(s)
            out = cur.fetchall() if cur.description else []
    return out


@pytest.fixture(scope="module")
def pg_write_trap(pg_uri: str, pg_schema: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    s = pg_schema
    _pg(pg_uri,
        f'CREATE TABLE "{s}".audit (at timestamptz)',
        f'CREATE TABLE "{s}".people AS SELECT g AS id FROM generate_series(1, 5) g',
        f'CREATE FUNCTION "{s}".log_read() RETURNS int LANGUAGE plpgsql VOLATILE AS '
        f'$$ BEGIN INSERT INTO "{s}".audit VALUES (now()); RETURN 1; END $$',
        f'CREATE VIEW "{s}".trap AS SELECT id, "{s}".log_read() AS logged FROM "{s}".people')
    root = tmp_path_factory.mktemp("pgro")
    (root / "sources.yaml").write_text(f"sources:\n  wh: {{type: postgresql, uri: '${{RO_URI}}', db_schema: {s}}}\n")
    return root, {"RO_URI": pg_uri}


def test_pg_fragments_run_read_only(pg_write_trap: tuple[Path, dict[str, str]], pg_uri: str, pg_schema: str) -> None:
    root, env = pg_write_trap
    with Workspace.load(root, env=env) as ws:
        assert ws.query("SELECT count(*) AS n FROM wh.people").column(0)[0].as_py() == 5
        with pytest.raises(SourceError, match=r"^source 'wh': .*read-only transaction"):
            ws.query("SELECT id, logged FROM wh.trap")
        # the connector's own execute path, with a statement no planner would generate
        conn = ws.connector("wh")
        con = conn.connect()
        try:
            cur = con.cursor()
            with pytest.raises(Exception, match="read-only transaction"):
                conn.execute(cur, f'INSERT INTO "{pg_schema}".audit VALUES (now())')
        finally:
            con.close()
    assert _pg(pg_uri, f'SELECT count(*) FROM "{pg_schema}".audit')[0][0] == 0


def test_cli_pg_write_through_a_view_exits_3(pg_write_trap: tuple[Path, dict[str, str]], pg_uri: str,
                                             pg_schema: str) -> None:
    root, env = pg_write_trap
    r = cdp("query", "-w", str(root), "SELECT id, logged FROM wh.trap", env=env)
    assert r.returncode == 3 and "read-only transaction" in r.stderr and "Traceback" not in r.stderr
    assert _pg(pg_uri, f'SELECT count(*) FROM "{pg_schema}".audit')[0][0] == 0


@pytest.mark.parametrize("sql", [
    "SELECT pg_terminate_backend(pg_backend_pid()) AS x FROM wh.people",
    "SELECT set_config('search_path', 'evil', false) AS x FROM wh.people",
    "SELECT nextval('wh.seq') AS x FROM wh.people",
    "SELECT wh.log_read() AS x FROM wh.people",
    "SELECT pg_advisory_lock(1) AS x FROM wh.people",
])
def test_side_effect_functions_never_reach_postgres(pg_write_trap: tuple[Path, dict[str, str]], pg_uri: str,
                                                   pg_schema: str, sql: str) -> None:
    root, env = pg_write_trap
    with Workspace.load(root, env=env) as ws:
        with pytest.raises(CdpError) as info:
            ws.query(sql)
        assert isinstance(info.value, (QueryError, UnsupportedError, SourceError)), info.value
        if isinstance(info.value, SourceError):
            assert "read-only transaction" in info.value.message
    assert _pg(pg_uri, f'SELECT count(*) FROM "{pg_schema}".audit')[0][0] == 0


def _counters(uri: str, schema: str) -> dict[str, tuple[int, int, int]]:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(uri, autocommit=True) as con, con.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.fetchall()
        cur.execute("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
                    f"WHERE schemaname = '{schema}'")
        return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in cur.fetchall()}


def _settled(uri: str, schema: str, table: str, inserted: int) -> dict[str, tuple[int, int, int]]:
    # statistics reach pg_stat_user_tables when a backend flushes them (at exit, or
    # within a second); wait until the setup's own inserts show: the counters work
    deadline = time.monotonic() + 10
    while True:
        found = _counters(uri, schema)
        if found.get(table, (0, 0, 0))[0] >= inserted or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_oracle_query_set_writes_nothing(pg_uri: str, pg_schema: str, tmp_path: Path) -> None:
    from tests.federation.oracle import build_workspace
    from tests.federation.oracle_data import make_tables
    from tests.federation.oracle_queries import QUERIES

    tables = make_tables(n_customers=60, seed=5)
    names, env = build_workspace("pg_sqlite_csv", tmp_path, tables, pg_uri=pg_uri, pg_schema=pg_schema)
    files = [tmp_path / "data" / "shop.db", tmp_path / "data" / "events.csv"]
    before = _settled(pg_uri, pg_schema, "customers", tables["customers"].num_rows)
    assert before["customers"][0] == tables["customers"].num_rows, "pg_stat_user_tables did not count the setup"
    hashes = [_digest(f) for f in files]
    answered = 0
    with Workspace.load(tmp_path, env=env) as ws:
        for q in QUERIES:
            try:
                ws.query(q.format(**names))
                answered += 1
            except UnsupportedError:
                pass
    assert answered > len(QUERIES) * 0.8
    time.sleep(1.1)  # let any backend flush what it did (all connections are closed now)
    after = _counters(pg_uri, pg_schema)
    assert {t: after[t] for t in before} == before
    assert [_digest(f) for f in files] == hashes
    assert not (tmp_path / "data" / "shop.db-journal").exists() and not (tmp_path / "data" / "shop.db-wal").exists()


READ_POSTS = re.compile(r"/search$|/coql$|/query$|/oauth2?/(v2/)?token$")


def test_crm_requests_are_reads_only(crm_ws: CrmWorkspace) -> None:
    with Workspace.load(crm_ws.root, env=crm_ws.env) as ws:
        for name, (_type, table, _opts) in CRMS.items():
            crm_ws.emulators[name].clear_log()
            columns = ws.describe_source(name, table)[0].columns
            cols = [c.name for c in columns]
            text = next(c.name for c in columns if str(c.type) in ("string", "large_string", "string_view"))
            ws.query(f"SELECT * FROM {name}.{table}")
            ws.query(f"SELECT count(*) AS n FROM {name}.{table} WHERE {cols[0]} IS NOT NULL")
            ws.query(f"SELECT {cols[1]}, count(*) AS n FROM {name}.{table} GROUP BY 1 ORDER BY 2 DESC LIMIT 3")
            try:
                ws.query(f"SELECT * FROM {name}.{table} WHERE {text} LIKE '%a%' ORDER BY 1 LIMIT 5")
            except UnsupportedError:
                pass
            log = crm_ws.emulators[name].log
            assert log, name
            writes = [(r.method, r.path) for r in log
                      if r.method != "GET" and not (r.method == "POST" and READ_POSTS.search(r.path))]
            assert not writes, f"{name} sent {writes}"
