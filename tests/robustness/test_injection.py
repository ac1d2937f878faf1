"""SQL injection through ``--param`` values, segment conditions and quoted
identifiers never reaches a source as SQL (SQLite and PostgreSQL).

For every hostile string: the tables are intact afterwards, the value
round-trips as data (a filter on it returns exactly the rows holding it) and the
native SQL that explain shows parses as one statement with the value as one
literal.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
import yaml
from sqlglot import exp

from federation import Workspace
from federation.errors import QueryError
from tests.robustness.conftest import cdp

HOSTILE = [
    "O'Brien",
    "'; DROP TABLE people; --",
    "x' OR '1'='1",
    '" OR 1=1 --',
    "\\'; DELETE FROM people; --",
    "back\\slash\\",
    "/* open comment",
    "*/ SELECT 1; /*",
    "-- trailing",
    "$$; DROP TABLE people; $$",
    "$1 :v ? %s {0}",
    "''''",
    "a\nb\r\nc\t",
    "Zoë ☃ 𝄞 \u202eevil",
    "%_like_%",
    "E'\\x41'",
    ";",
]
NUL = "nul\x00byte"  # SQLite text may hold NUL, PostgreSQL text cannot; the front end refuses it


def _people(values: list[str]) -> list[tuple[int, str]]:
    rows = [(i + 1, v) for i, v in enumerate(values)] + [(100 + i, f"plain{i}") for i in range(3)]
    return rows + [(200, values[1])]  # one value twice: the filter must return both rows


def _sqlite(path: Path, rows: list[tuple[int, str]]) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE people (id INTEGER, name TEXT)")
    con.execute('CREATE TABLE "odd''; DROP TABLE people; --" ("col ""q"" ; --" TEXT)')
    con.execute('INSERT INTO "odd''; DROP TABLE people; --" VALUES (?)', ("inside",))
    con.executemany("INSERT INTO people VALUES (?, ?)", rows)
    con.commit()
    con.close()


def _pg(uri: str, schema: str, rows: list[tuple[int, str]]) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(uri) as con, con.cursor() as cur:
        cur.execute(f'CREATE TABLE "{schema}".people (id int, name text)')
        for i, v in rows:
            cur.execute(f'INSERT INTO "{schema}".people VALUES ($1, $2)', (i, v))
        con.commit()


def _pg_count(uri: str, schema: str) -> int:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(uri) as con, con.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{schema}".people')
        return int(cur.fetchall()[0][0])


@pytest.fixture(scope="module")
def ws(pg_uri: str, pg_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("inject")
    _sqlite(root / "shop.db", _people(HOSTILE + [NUL]))
    _pg(pg_uri, pg_schema, _people(HOSTILE))
    segments = {
        f"seg{i}": {"from": f"{src}.people", "key": "id", "where": [{"name": v}]}
        for i, (src, v) in enumerate([(s, v) for s in ("shop", "wh") for v in HOSTILE])
    }
    (root / "sources.yaml").write_text(
        f"sources:\n  shop: {{type: sqlite, path: shop.db}}\n"
        f"  wh: {{type: postgresql, uri: '${{INJ_URI}}', db_schema: {pg_schema}}}\n")
    (root / "segments.yaml").write_text(yaml.safe_dump({"segments": segments}, allow_unicode=True))
    env = {"INJ_URI": pg_uri}
    with Workspace.load(root, env=env) as w:
        yield w, root, env
    assert _pg_count(pg_uri, pg_schema) == len(_people(HOSTILE))
    con = sqlite3.connect(root / "shop.db")
    assert con.execute("SELECT count(*) FROM people").fetchone()[0] == len(_people(HOSTILE + [NUL]))
    con.close()


def _expected(value: str, with_nul: bool) -> list[int]:
    return sorted(i for i, v in _people(HOSTILE + ([NUL] if with_nul else [])) if v == value)


def _one_literal(doc: dict[str, Any], value: str) -> None:
    """Every fragment's native SQL is one statement; the value is one whole literal or a bound parameter."""
    for frag in doc["fragments"]:
        req = frag["request"]
        if value in [str(p) for p in req.get("params") or []]:
            continue
        dialect = "sqlite" if frag["source_type"] == "sqlite" else "postgres"
        statements = sqlglot.parse(req["sql"], read=dialect)
        assert len(statements) == 1, req["sql"]
        literals = [lit.this for lit in statements[0].find_all(exp.Literal) if lit.is_string]
        assert value in literals, (value, req["sql"])


@pytest.mark.parametrize("source", ["shop", "wh"])
@pytest.mark.parametrize("sql", ["SELECT id FROM {s}.people WHERE name = :v", "SELECT id FROM {s}.people WHERE name = 'nul\x00byte'"])
def test_nul_in_text_is_a_user_error(ws: tuple[Workspace, Path, dict[str, str]], source: str, sql: str) -> None:
    # was: SQLite "unrecognized token" (exit 3): the driver cut the SQL text at the NUL
    w, _, _ = ws
    with pytest.raises(QueryError, match="cannot contain a NUL"):
        w.query(sql.format(s=source), params={"v": NUL})


@pytest.mark.parametrize("source", ["shop", "wh"])
@pytest.mark.parametrize("value", HOSTILE, ids=[f"h{i}" for i in range(len(HOSTILE))])
def test_param_value_round_trips_as_data(ws: tuple[Workspace, Path, dict[str, str]], source: str, value: str) -> None:
    w, _, _ = ws
    sql = f"SELECT id FROM {source}.people WHERE name = :v ORDER BY id"
    got = w.query(sql, params={"v": value}).column("id").to_pylist()
    assert got == _expected(value, source == "shop") and got
    _one_literal(w.explain(sql, params={"v": value}), value)
    # the same value through a federated plan (residual filter in Arrow, keys across sources)
    both = (f"SELECT a.id FROM shop.people a JOIN wh.people b ON a.id = b.id WHERE a.name = :v "
            f"AND b.name = :v ORDER BY a.id")
    assert w.query(both, params={"v": value}).column("id").to_pylist() == _expected(value, False)


@pytest.mark.parametrize("i", range(len(HOSTILE) * 2), ids=[f"seg{i}" for i in range(len(HOSTILE) * 2)])
def test_segment_condition_round_trips_as_data(ws: tuple[Workspace, Path, dict[str, str]], i: int) -> None:
    w, _, _ = ws
    value = HOSTILE[i % len(HOSTILE)]
    seg = w.segment(f"seg{i}")
    assert sorted(seg.run().column("id").to_pylist()) == _expected(value, False)
    _one_literal(seg.explain(), value)


def test_cli_params_round_trip(ws: tuple[Workspace, Path, dict[str, str]]) -> None:
    import json

    _, root, env = ws
    values = HOSTILE[:6] + HOSTILE[12:14]  # one process, every value as its own --param
    args = [a for i, v in enumerate(values) for a in ("--param", f"v{i}={v}")]
    placeholders = ", ".join(f":v{i}" for i in range(len(values)))
    for source in ("wh", "shop"):
        r = cdp("query", "-w", str(root), "--format", "json", *args,
                f"SELECT id FROM {source}.people WHERE name IN ({placeholders}) ORDER BY id", env=env)
        assert r.returncode == 0, r.stderr
        assert [row["id"] for row in json.loads(r.stdout)] == sorted(i for v in values for i in _expected(v, False))


@pytest.mark.parametrize("sql", [
    'SELECT "name; DROP TABLE people; --" FROM shop.people',
    'SELECT id FROM shop."people; DROP TABLE people"',
    'SELECT id FROM shop.people AS "x""; DROP TABLE people; --"  WHERE "x""; DROP TABLE people; --".id = 1',
    'SELECT id AS "a""; DROP TABLE people; --" FROM wh.people',
])
def test_hostile_quoted_identifiers_are_names(ws: tuple[Workspace, Path, dict[str, str]], sql: str) -> None:
    w, _, _ = ws
    try:
        w.query(sql)
    except QueryError as e:
        assert "does not exist" in e.message
    for frag in (w.explain(sql)["fragments"] if "AS \"a" in sql or "AS \"x" in sql else []):
        assert len(sqlglot.parse(frag["request"]["sql"], read=frag["source_type"].replace("postgresql", "postgres"))) == 1


def test_table_and_column_with_hostile_names_are_quoted(ws: tuple[Workspace, Path, dict[str, str]]) -> None:
    w, _, _ = ws
    tables = {t.name: t for t in w.describe_source("shop")}
    odd = next(t for t in tables.values() if "drop table" in t.name.lower())
    col = odd.columns[0].name
    ident = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
    sql = f"SELECT {ident(col)} AS c FROM shop.{ident(odd.name)} WHERE {ident(col)} = 'inside'"
    assert w.query(sql).column("c").to_pylist() == ["inside"]
    frag = w.explain(sql)["fragments"][0]["request"]["sql"]
    assert len(sqlglot.parse(frag, read="sqlite")) == 1
