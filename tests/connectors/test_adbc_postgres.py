"""PostgreSQL connector against a real server (behind the ``pg_uri`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from connectors.adbc.postgres import PostgresConnector
from connectors.base import ScanRequest
from federation.config.model import SourceConfig
from federation.errors import Location, SourceError

N = 3000
HOSTILE = ["it's", "a;b", "'; DROP TABLE \"CustomerData\"; --", 'q"uote', "back\\slash", "$1 ? %s"]


@pytest.fixture(scope="module")
def pg(pg_uri: str, pg_schema: str) -> tuple[str, str]:
    import adbc_driver_postgresql.dbapi as driver

    with driver.connect(pg_uri) as con, con.cursor() as cur:
        cur.execute(f'CREATE TABLE "{pg_schema}"."CustomerData" (id bigint, "Email" text, score double precision, '
                    "vip boolean, amount numeric(10,2), loose numeric, seen timestamptz, born date, empty text)")
        cur.execute(f'INSERT INTO "{pg_schema}"."CustomerData" SELECT g, '
                    "CASE WHEN g % 7 = 0 THEN NULL ELSE 'user' || g END, "
                    "CASE WHEN g % 11 = 0 THEN NULL ELSE g / 4.0 END, g % 3 = 0, g / 3.0, g / 7.0, "
                    "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', date '2024-01-01' + g % 30, NULL "
                    f"FROM generate_series(0, {N - 1}) g")
        for i, v in enumerate(HOSTILE):
            cur.execute(f'INSERT INTO "{pg_schema}"."CustomerData" (id, "Email") VALUES ({N + i}, $1)', parameters=(v,))
        cur.execute(f'CREATE TABLE "{pg_schema}".orders (id bigint, customer_id bigint)')
        cur.execute(f'INSERT INTO "{pg_schema}".orders SELECT g, g % 50 FROM generate_series(1, 200) g')
        cur.execute(f'ANALYZE "{pg_schema}".orders')
        con.commit()
    return pg_uri, pg_schema


def _conn(uri: str, schema: str, **opts: object) -> PostgresConnector:
    cfg = SourceConfig("wh", "postgresql", {"type": "postgresql", "uri": uri, "db_schema": schema, **opts},
                       Location("sources.yaml", 3), secret_keys=frozenset({"uri"}), secret_values=frozenset({uri}))
    return PostgresConnector(cfg, Path("."))


def _ids(c: PostgresConnector, filters: list[str]) -> list[int]:
    req = ScanRequest(output_names=("id",), table="customerdata", columns=("id",),
                      filters=tuple(sqlglot.parse_one(f, read="postgres") for f in filters))
    return sorted(c.scan(req).read_all().column("id").to_pylist())


def test_discovery_mixed_case_and_types(pg: tuple[str, str]) -> None:
    c = _conn(*pg)
    tables = {t.name: t for t in c.tables()}
    assert set(tables) == {"customerdata", "orders"}
    t = tables["customerdata"]
    assert t.native_name == "CustomerData"
    assert t.column("email").native_name == "Email"  # type: ignore[union-attr]
    types = {col.name: col.type for col in t.columns}
    assert types["amount"] == pa.decimal128(10, 2)
    assert types["loose"] == pa.float64()
    assert types["seen"] == pa.timestamp("us", tz="UTC")
    assert types["empty"] == pa.string()
    assert tables["orders"].row_estimate == 200  # analyzed; pg_class.reltuples
    assert [t.name for t in _conn(*pg, tables=["CustomerData"]).tables()] == ["customerdata"]


def test_scan_types_and_names(pg: tuple[str, str]) -> None:
    c = _conn(*pg)
    req = ScanRequest(output_names=("e", "a", "l", "s"), table="customerdata", columns=("email", "amount", "loose", "seen"),
                      limit=5, order_by=(sqlglot.parse_one("id", read="postgres"),))
    req = ScanRequest(output_names=req.output_names, table=req.table, columns=req.columns, limit=5,
                      order_by=(exp.Ordered(this=exp.column("id")),))
    got = c.scan(req).read_all()
    assert got.schema.names == ["e", "a", "l", "s"]
    assert got.schema.types[:3] == [pa.string(), pa.decimal128(10, 2), pa.float64()]
    assert got.num_rows == 5


@pytest.mark.parametrize("pred", ["id < 10", "NOT (score > 10)", "\"email\" = 'user5'", "email IS NULL",
                                  "id IN (1, 2, 3)", "id BETWEEN 10 AND 20", "vip = FALSE", "email LIKE 'user1%'", "vip",
                                  "vip IS NOT TRUE", "amount > 900", "born >= DATE '2024-01-20'",
                                  "seen < TIMESTAMP '2024-01-01 01:00:00+00'"])
def test_exact_filters_really_filter(pg: tuple[str, str], pred: str) -> None:
    import duckdb

    c = _conn(*pg)
    info = {t.name: t for t in c.tables()}["customerdata"]
    assert c.classify(sqlglot.parse_one(pred, read="postgres"), info) == "exact"
    cols = ("id", "email", "score", "vip", "amount", "born", "seen")
    everything = c.scan(ScanRequest(output_names=cols, table="customerdata", columns=cols)).read_all()  # noqa: F841
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    want = sorted(r[0] for r in duck.sql(f"SELECT id FROM everything WHERE {pred}").fetchall())
    assert _ids(c, [pred]) == want


def test_whole_query_placement_and_native_names(pg: tuple[str, str]) -> None:
    c = _conn(*pg)
    q = sqlglot.parse_one("SELECT c.email, count(*) AS n FROM customerdata AS c JOIN orders AS o ON o.customer_id = c.id "
                          "WHERE c.id < 10 GROUP BY c.email ORDER BY n DESC, c.email LIMIT 3", read="postgres")
    assert c.accepts(q)
    req = ScanRequest(output_names=("email", "n"), query=q)
    sql = c.native_request(req)[0].text or ""
    assert f'"{pg[1]}"."CustomerData"' in sql and '"Email"' in sql
    for part in ("WHERE", "GROUP BY", "ORDER BY", "LIMIT 3", "JOIN"):
        assert part in sql
    got = c.scan(req).read_all()
    assert got.schema.names == ["email", "n"] and got.num_rows == 3


def test_streams_in_several_batches(pg: tuple[str, str], pg_uri: str) -> None:
    import adbc_driver_postgresql.dbapi as driver

    with driver.connect(pg_uri) as con, con.cursor() as cur:
        cur.execute(f'CREATE TABLE "{pg[1]}".big AS SELECT g AS id, repeat(\'x\', 200) AS pad FROM generate_series(1, 300000) g')
        con.commit()
    c = _conn(*pg)
    sizes = [b.num_rows for b in c.scan(ScanRequest(output_names=("id", "pad"), table="big", columns=("id", "pad")))]
    assert len(sizes) > 1 and sum(sizes) == 300000


def test_fragments_run_read_only(pg: tuple[str, str]) -> None:
    c = _conn(*pg)
    conn = c.open()
    try:
        cur = conn.cursor()
        with pytest.raises(Exception, match="read-only transaction"):
            c.execute(cur, f'INSERT INTO "{pg[1]}".orders VALUES (1, 1)')
        c.finish(conn, cur)
    finally:
        conn.close()


def test_injection_round_trips_as_a_value(pg: tuple[str, str]) -> None:
    c = _conn(*pg)
    for value in HOSTILE:
        pred = exp.EQ(this=exp.column("email"), expression=exp.Literal.string(value))
        req = ScanRequest(output_names=("email",), table="customerdata", columns=("email",), filters=(pred,))
        assert c.scan(req).read_all().column("email").to_pylist() == [value]
    assert len(_ids(c, ["id >= 0"])) == N + len(HOSTILE)


def test_bad_uri_is_a_source_error_without_the_password() -> None:
    uri = "postgresql://postgres:hunter2secret@127.0.0.1:1/nowhere"
    c = _conn(uri, "public")
    with pytest.raises(SourceError) as e:
        c.check()
    text = e.value.render()
    assert "source 'wh'" in text and "connecting failed" in text
    assert "hunter2secret" not in text and uri not in text
    assert e.value.exit_code == 3 and e.value.retriable


def test_driver_messages_are_scrubbed_of_uri_parts() -> None:
    c = _conn("postgresql://bob:s3cr%40t@db.example:5432/x", "public")
    err = c.error(RuntimeError("auth failed for bob:s3cr@t and s3cr%40t"), "connecting")
    assert "s3cr" not in err.render() and "[secure]" in err.render()


def test_query_errors_keep_sqlstate_but_not_the_query(pg: tuple[str, str]) -> None:
    c = _conn(*pg)
    q = sqlglot.parse_one("SELECT c.email + 1 AS x FROM customerdata AS c WHERE c.email <> 'top-secret-value'",
                          read="postgres")
    with pytest.raises(SourceError) as e:  # fails when the statement is prepared
        c.scan(ScanRequest(output_names=("x",), query=q)).read_all()
    text = e.value.render()
    assert "operator does not exist" in text and "42883" in text and "source 'wh'" in text
    assert "top-secret-value" not in text
    q = sqlglot.parse_one("SELECT c.id FROM customerdata AS c WHERE c.email <> 'top-secret-value' AND c.id / 0 = 1",
                          read="postgres")
    with pytest.raises(SourceError) as e:  # fails while rows stream
        c.scan(ScanRequest(output_names=("id",), query=q)).read_all()
    assert "division by zero" in e.value.render() and "top-secret-value" not in e.value.render()


def test_unknown_table_in_tables_option(pg: tuple[str, str]) -> None:
    with pytest.raises(SourceError, match="table 'customerdat' .* does not exist"):
        _conn(*pg, tables=["customerdat"]).tables()


def test_check_passes(pg: tuple[str, str]) -> None:
    _conn(*pg).check()


def test_connections_are_reused_and_stale_ones_replaced(pg: tuple[str, str], pg_uri: str) -> None:
    import adbc_driver_postgresql.dbapi as driver

    c = _conn(*pg)
    assert len(_ids(c, ["id < 3"])) == 3
    assert len(c._idle) == 1
    pid = c._idle[0].cursor()
    pid.execute("SELECT pg_backend_pid()")
    (backend,) = pid.fetchone()
    pid.close()
    with driver.connect(pg_uri) as con, con.cursor() as cur:
        cur.execute(f"SELECT pg_terminate_backend({int(backend)})")
        cur.fetchall()
    assert len(_ids(c, ["id < 3"])) == 3  # the dead idle connection was replaced
    reader = c.scan(ScanRequest(output_names=("id",), table="customerdata", columns=("id",)))
    reader.read_next_batch()
    reader.close()  # abandoned mid-stream: that connection is not pooled
    assert len(_ids(c, ["id < 4"])) == 4
    c.close()
    assert c._idle == []


def test_explain_probe_refuses_what_postgres_cannot_compile(pg: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.adbc import allowlist

    monkeypatch.setattr(allowlist, "POSTGRES_FUNCTIONS", allowlist.POSTGRES_FUNCTIONS | {"no_such_fn"})
    q = sqlglot.parse_one("SELECT no_such_fn(c.id) AS x FROM customerdata AS c", read="postgres")
    assert not _conn(*pg).accepts(q)
    assert _conn(*pg, probe=False).accepts(q)
    ok = sqlglot.parse_one("SELECT c.id FROM customerdata AS c WHERE c.id < 3", read="postgres")
    assert _conn(*pg).accepts(ok)


def test_parallel_scans_share_the_pool_safely(pg: tuple[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    c = _conn(*pg)

    def one(k: int) -> list[int]:
        return _ids(c, [f"id < {k}"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, range(1, 25)))
    assert [len(r) for r in results] == list(range(1, 25))
    assert len(c._idle) <= 4
    c.close()


def test_hostile_identifiers_are_quoted(pg: tuple[str, str], pg_uri: str) -> None:
    import adbc_driver_postgresql.dbapi as driver

    with driver.connect(pg_uri) as con, con.cursor() as cur:
        cur.execute(f'CREATE TABLE "{pg[1]}"."Odd""; DROP TABLE orders; --" ("Col""x" int)')
        cur.execute(f'INSERT INTO "{pg[1]}"."Odd""; DROP TABLE orders; --" VALUES (1), (2)')
        con.commit()
    c = _conn(*pg)
    t = next(t for t in c.tables() if t.name.startswith("odd"))
    col = t.columns[0]
    got = c.scan(ScanRequest(output_names=("v",), table=t.name, columns=(col.name,),
                             filters=(exp.GT(this=exp.column(col.name, quoted=True), expression=exp.Literal.number(1)),)))
    assert got.read_all().column("v").to_pylist() == [2]
    assert "orders" in {t.name for t in _conn(*pg).tables()}
