"""SQLite connector against a real database file: discovery, pushdown honesty, placement,
limit, streaming, read-only, errors, injection safety."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from connectors.adbc.sqlite import SqliteConnector
from connectors.base import ScanRequest, TableInfo
from federation.config.model import SourceConfig
from federation.errors import Location, SourceError

N = 5000
HOSTILE = ["it's", "a;b", "'; DROP TABLE people; --", 'q"uote', "back\\slash", "%_*?["]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sqlite")
    con = sqlite3.connect(root / "shop.db")
    con.execute('CREATE TABLE "People" (id INTEGER, "Name" TEXT, score REAL, vip BOOLEAN, born DATE, '
                "seen TIMESTAMP, amount NUMERIC, misc, late TEXT)")
    rows = []
    for i in range(N):
        name = HOSTILE[(i // 50) % len(HOSTILE)] if i % 50 == 0 else (None if i % 7 == 0 else f"{'Ab' if i % 2 else 'ab'}{i}")
        rows.append((i, name, None if i % 11 == 0 else i / 4, i % 3 == 0, f"2024-01-{i % 28 + 1:02d}",
                     f"2024-02-01 10:{i % 60:02d}:00", i % 5 + 0.5 if i % 2 else i % 5, None,
                     None if i < 3000 else "late"))
    con.executemany("INSERT INTO People VALUES (?,?,?,?,?,?,?,?,?)", rows)
    con.execute("CREATE TABLE secret_stuff (x INTEGER)")
    con.commit()
    con.close()
    return root


def _conn(root: Path, **opts: object) -> SqliteConnector:
    cfg = SourceConfig("shop", "sqlite", {"type": "sqlite", "path": "shop.db", **opts}, Location("sources.yaml", 2))
    return SqliteConnector(cfg, root)


def _people(c: SqliteConnector) -> TableInfo:
    return next(t for t in c.tables() if t.name == "people")


def _scan(c: SqliteConnector, filters: list[str] = (), limit: int | None = None, cols: tuple[str, ...] = ("id",)) -> pa.Table:  # type: ignore[assignment]
    req = ScanRequest(output_names=cols, table="people", columns=cols,
                      filters=tuple(sqlglot.parse_one(f, read="postgres") for f in filters), limit=limit)
    return c.scan(req).read_all()


def test_discovery_names_and_types(db: Path) -> None:
    c = _conn(db)
    assert sorted(t.name for t in c.tables()) == ["people", "secret_stuff"]
    t = _people(c)
    assert (t.name, t.native_name) == ("people", "People")
    types = {col.name: col.type for col in t.columns}
    assert types == {"id": pa.int64(), "name": pa.string(), "score": pa.float64(), "vip": pa.bool_(),
                     "born": pa.date32(), "seen": pa.timestamp("us"), "amount": pa.float64(), "misc": pa.string(),
                     "late": pa.string()}
    assert t.column("name").native_name == "Name"  # type: ignore[union-attr]


def test_tables_option_limits_exposure(db: Path) -> None:
    assert [t.name for t in _conn(db, tables=["People"]).tables()] == ["people"]
    with pytest.raises(SourceError, match="table 'peple' .listed in `tables`. does not exist") as e:
        _conn(db, tables=["peple"]).tables()
    assert "Did you mean 'people'?" in e.value.render()


def test_types_come_back_as_declared_even_null_at_first(db: Path) -> None:
    got = _scan(_conn(db), cols=("vip", "born", "seen", "amount", "misc", "late"))
    assert got.schema.types == [pa.bool_(), pa.date32(), pa.timestamp("us"), pa.float64(), pa.string(), pa.string()]
    assert got.num_rows == N
    assert got.column("late").null_count == 3000  # NULL for the first 3000 rows, text after
    assert got.column("vip").to_pylist()[:4] == [True, False, False, True]


PREDICATES = [
    "id = 7", "id <> 7", "id < 100", "id <= 100", "score > 600.5", "score >= 600", "NOT (score > 10)",
    "name = 'it''s'", "name IS NULL", "name IS NOT NULL", "id IN (1, 2, 3)", "NOT id IN (1, 2)",
    "id BETWEEN 10 AND 20", "name LIKE 'ab1%'", "name LIKE 'Ab_'", "name NOT LIKE 'ab1%'", "vip", "vip IS NOT TRUE", "NOT vip", "vip = TRUE", "vip = FALSE",
    "score > 100 OR id < 5", "id IS DISTINCT FROM 3", "name LIKE '%*?[%'",
]


@pytest.mark.parametrize("pred", PREDICATES)
def test_exact_filters_really_filter(db: Path, pred: str) -> None:
    import duckdb

    c = _conn(db)
    info = _people(c)
    node = sqlglot.parse_one(pred, read="postgres")
    assert c.classify(node, info) == "exact", pred
    cols = ("id", "name", "score", "vip")
    got = sorted(_scan(c, [pred], cols=("id",)).column("id").to_pylist())
    everything = _scan(c, cols=cols)
    want = duckdb.sql(f"SELECT id FROM everything WHERE {pred}").fetchall()
    assert got == sorted(r[0] for r in want)


@pytest.mark.parametrize("pred", ["born >= DATE '2024-01-05'", "seen > TIMESTAMP '2024-02-01 10:00:00'",
                                  "name ILIKE 'ab%'", "name LIKE 'a\\_%'", "upper(name) = 'AB1'",
                                  "name = 1", "name IN ('a', 2)"])
def test_unsafe_predicates_are_not_exact(db: Path, pred: str) -> None:
    c = _conn(db)
    assert c.classify(sqlglot.parse_one(pred, read="postgres"), _people(c)) == "unsupported"


def test_filter_placed_in_native_sql_and_limit(db: Path) -> None:
    c = _conn(db)
    req = ScanRequest(output_names=("id",), table="people", columns=("id",),
                      filters=(sqlglot.parse_one("name LIKE 'ab1%'", read="postgres"),), limit=3)
    (nr,) = c.native_request(req)
    assert nr.kind == "sql"
    assert "WHERE" in nr.text and "GLOB 'ab1*'" in nr.text and "LIMIT 3" in nr.text  # type: ignore[operator]
    assert '"People"' in nr.text and '"Name"' in nr.text  # type: ignore[operator]
    assert c.scan(req).read_all().num_rows == 3


def test_whole_query_with_order_and_booleans(db: Path) -> None:
    c = _conn(db)
    q = sqlglot.parse_one("SELECT p.vip, count(*) AS n, max(p.name) AS m FROM people AS p WHERE p.id < 100 "
                          "GROUP BY p.vip ORDER BY n DESC", read="postgres")
    assert c.accepts(q)
    got = c.scan(ScanRequest(output_names=("vip", "n", "m"), query=q)).read_all()
    assert got.schema.field("vip").type == pa.bool_()
    assert got.column("n").to_pylist() == [66, 34]
    sql = c.native_request(ScanRequest(output_names=("vip", "n", "m"), query=q))[0].text
    assert "NULLS FIRST" in sql or "NULLS LAST" not in sql  # type: ignore[operator]


def test_queries_sqlite_would_answer_differently_are_refused(db: Path) -> None:
    c = _conn(db)
    for sql in ["SELECT p.id FROM people AS p WHERE p.born >= DATE '2024-01-05'",
                "SELECT upper(p.name) AS u FROM people AS p",
                "SELECT EXTRACT(year FROM p.seen) AS y FROM people AS p",
                "SELECT greatest(p.id, 3) AS g FROM people AS p",
                "SELECT CAST(p.score AS INTEGER) AS s FROM people AS p",
                "SELECT p.id FROM people AS p WHERE p.name ILIKE 'ab%'",
                "SELECT round(p.score) AS r FROM people AS p",
                "SELECT substring(p.name, -1, 3) AS s FROM people AS p"]:
        assert not c.accepts(sqlglot.parse_one(sql, read="postgres")), sql


def test_window_functions_match_duckdb(db: Path) -> None:
    import duckdb

    c = _conn(db)
    # DuckDB sorts NULLs last for DESC, PostgreSQL first: the oracle gets it spelled out,
    # SQLite gets the PostgreSQL default without it
    sql = ("SELECT p.id AS id, rank() OVER (PARTITION BY p.vip ORDER BY p.score DESC{}) AS r, "
           "lag(p.name) OVER (ORDER BY p.id) AS prev FROM people AS p")
    q = sqlglot.parse_one(sql.format(""), read="postgres")
    assert c.accepts(q)
    got = c.scan(ScanRequest(output_names=("id", "r", "prev"), query=q)).read_all()
    people = _scan(c, cols=("id", "vip", "score", "name"))  # noqa: F841
    want = duckdb.sql(sql.format(" NULLS FIRST").replace("people AS p", "people p")).arrow().read_all()
    assert sorted(got.to_pylist(), key=lambda r: r["id"]) == sorted(want.to_pylist(), key=lambda r: r["id"])


def test_explain_probe_catches_what_the_allow_list_missed(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.adbc import allowlist

    # pretend the allow-list wrongly lists REGEXP_LIKE, which this SQLite does not have
    monkeypatch.setitem(allowlist.DIALECTS, "sqlite", allowlist.SQLITE | {exp.RegexpLike})
    q = sqlglot.parse_one("SELECT p.id FROM people AS p WHERE p.name ~ 'ab'", read="postgres")
    assert not _conn(db).accepts(q)
    assert _conn(db, probe=False).accepts(q)


def test_order_survives_the_typed_first_row(db: Path) -> None:
    c = _conn(db, batch_size=700)
    q = sqlglot.parse_one("SELECT p.id, p.score FROM people AS p ORDER BY p.score DESC, p.id", read="postgres")
    assert c.accepts(q)
    got = c.scan(ScanRequest(output_names=("id", "score"), query=q)).read_all()
    assert got.num_rows == N
    scores = got.column("score").to_pylist()
    nulls = scores.count(None)
    assert scores[:nulls] == [None] * nulls  # PostgreSQL: NULLs first when descending
    assert scores[nulls:] == sorted(scores[nulls:], reverse=True)


def test_comma_join_is_not_a_cross_join(db: Path) -> None:
    c = _conn(db)
    q = sqlglot.parse_one("SELECT a.id FROM people AS a, people AS b WHERE a.id = b.id AND a.id < 3", read="postgres")
    assert c.accepts(q)
    sql = c.native_request(ScanRequest(output_names=("id",), query=q))[0].text
    assert "CROSS JOIN" not in sql.upper()  # type: ignore[union-attr]
    assert sorted(c.scan(ScanRequest(output_names=("id",), query=q)).read_all().column("id").to_pylist()) == [0, 1, 2]


def test_streams_in_several_batches(db: Path) -> None:
    c = _conn(db, batch_size=1000)
    reader = c.scan(ScanRequest(output_names=("id",), table="people", columns=("id",)))
    sizes = [b.num_rows for b in reader]
    assert len(sizes) > 3 and sum(sizes) == N


def test_read_only(db: Path) -> None:
    c = _conn(db)
    conn = c.open()
    try:
        cur = conn.cursor()
        with pytest.raises(Exception, match="readonly"):
            cur.execute("INSERT INTO People (id) VALUES (-1)")
        with pytest.raises(Exception, match="readonly"):
            cur.execute("CREATE TABLE x (a)")
    finally:
        conn.close()


def test_injection_round_trips_as_a_value(db: Path) -> None:
    c = _conn(db)
    for value in HOSTILE:
        pred = exp.EQ(this=exp.column("name"), expression=exp.Literal.string(value))
        req = ScanRequest(output_names=("name",), table="people", columns=("name",), filters=(pred,))
        got = set(c.scan(req).read_all().column("name").to_pylist())
        assert got == {value}, value
    assert _scan(c).num_rows == N  # the table is still there


def test_query_errors_do_not_echo_the_query(db: Path) -> None:
    c = _conn(db)
    bad = ScanRequest(output_names=("id",), table="people", columns=("id",),
                      filters=(sqlglot.parse_one("name = 'top-secret-value' AND nosuch(id) = 1", read="postgres"),))
    with pytest.raises(SourceError) as e:
        c.scan(bad)
    text = e.value.render()
    assert "no such function" in text.lower() and "top-secret-value" not in text


def test_missing_file_is_a_clear_source_error(tmp_path: Path) -> None:
    c = SqliteConnector(SourceConfig("shop", "sqlite", {"path": "nope.db"}, Location("sources.yaml", 2)), tmp_path)
    with pytest.raises(SourceError, match="database file 'nope.db' does not exist") as e:
        c.tables()
    assert e.value.exit_code == 3 and "shop" in str(e.value)


def test_timestamp_text_formats_come_back_as_utc(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "shop.db")
    con.execute("CREATE TABLE ev (id INTEGER, at TIMESTAMP, d DATE)")
    con.executemany("INSERT INTO ev VALUES (?, ?, ?)", [
        (1, "2024-02-01 10:00:00", "2024-02-01"), (2, "2024-02-01T10:00:00.250000", "2024-02-02"),
        (3, "2024-02-01 10:00:00+02:00", None), (4, "2024-02-01T10:00:00Z", "2024-02-04"), (5, None, None)])
    con.commit()
    con.close()
    import datetime as dt

    got = _conn(tmp_path).scan(ScanRequest(output_names=("id", "at", "d"), table="ev", columns=("id", "at", "d"))).read_all()
    assert got.column("at").to_pylist() == [
        dt.datetime(2024, 2, 1, 10), dt.datetime(2024, 2, 1, 10, 0, 0, 250000), dt.datetime(2024, 2, 1, 8),
        dt.datetime(2024, 2, 1, 10), None]
    assert got.column("d").to_pylist()[:2] == [dt.date(2024, 2, 1), dt.date(2024, 2, 2)]


def test_key_filter_is_bound_as_one_json_parameter(db: Path) -> None:
    from connectors.base import KeyFilter

    c = _conn(db)
    req = ScanRequest(output_names=("id",), table="people", columns=("id",),
                      key_filter=KeyFilter("id", pa.array([3, 5, None, 5])))
    (native,) = c.native_request(req)
    assert "IN (SELECT value FROM JSON_EACH(?))" in (native.text or "")  # the keys are bound, not inlined
    assert native.detail["params"] == [{"placeholder": "?", "type": "text (JSON array)", "keys": 2}]
    assert sorted(c.scan(req).read_all().column("id").to_pylist()) == [3, 5]
    other_kind = ScanRequest(output_names=("id",), table="people", columns=("id",),
                             key_filter=KeyFilter("name", pa.array([3, 5])))
    assert " IN " not in (c.native_request(other_kind)[0].text or "")  # ints against a text column: ignored


# -- the generic ADBC connector, with the DuckDB driver the duckdb wheel ships ----------------

def test_generic_duckdb_source(tmp_path: Path) -> None:
    import duckdb

    from connectors.adbc.generic import GenericAdbcConnector

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE \"Accounts\" (id INTEGER, \"Plan\" VARCHAR)")
    con.execute("INSERT INTO \"Accounts\" VALUES (1, 'free'), (2, 'pro'), (3, NULL)")
    con.close()
    c = GenericAdbcConnector(SourceConfig("wh", "duckdb", {"type": "duckdb", "uri": "w.duckdb"}, Location("s.yaml")),
                             tmp_path)
    (t,) = c.tables()
    assert (t.name, t.native_name, t.column("plan").native_name) == ("accounts", "Accounts", "Plan")  # type: ignore[union-attr]
    pred = sqlglot.parse_one("plan = 'pro'", read="postgres")
    assert c.classify(pred, t) == "exact"
    got = c.scan(ScanRequest(output_names=("id",), table="accounts", columns=("id",), filters=(pred,))).read_all()
    assert got.column("id").to_pylist() == [2]
    div = sqlglot.parse_one("SELECT a.id / 2 AS h FROM accounts AS a", read="postgres")
    assert not c.accepts(div)  # DuckDB divides integers as floats
    c.close()


def test_generic_missing_driver_names_the_install_command(tmp_path: Path) -> None:
    from connectors.adbc.generic import GenericAdbcConnector
    from federation.errors import UserError

    import importlib.util

    if importlib.util.find_spec("adbc_driver_snowflake") is not None:
        pytest.skip("the snowflake driver is installed here")
    c = GenericAdbcConnector(SourceConfig("sf", "snowflake", {"type": "snowflake", "uri": "x"}, Location("s.yaml")),
                             tmp_path)
    with pytest.raises(UserError, match="snowflake ADBC driver") as e:
        c.tables()
    assert "pip install adbc-driver-snowflake" in e.value.render()


def test_pooled_connections_see_new_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from federation import Workspace

    db = tmp_path / "live.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (id INTEGER)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    (tmp_path / "s.yaml").write_text("sources:\n  lite: {type: sqlite, path: live.db}\n")
    ws = Workspace.load(tmp_path, env={})
    assert ws.query("SELECT count(*) AS n FROM lite.t").column(0)[0].as_py() == 1
    con.execute("INSERT INTO t VALUES (2)")
    con.commit()
    con.close()
    assert ws.query("SELECT count(*) AS n FROM lite.t").column(0)[0].as_py() == 2
    ws.close()
