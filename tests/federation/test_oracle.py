"""Every oracle query, over three source combinations, equals DuckDB's answer;
and pushdown off gives the same rows as pushdown on."""

from __future__ import annotations

import pytest

from federation import Workspace
from tests.federation.oracle import COMBOS, assert_same_rows, build_workspace, duckdb_answer
from tests.federation.oracle_data import make_tables
from tests.federation.oracle_queries import QUERIES

TABLES = make_tables()


@pytest.fixture(scope="module", params=COMBOS)
def workspace(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    combo = request.param
    pg_uri = pg_schema = None
    if combo.startswith("pg"):
        pg_uri = request.getfixturevalue("pg_uri")
        pg_schema = request.getfixturevalue("pg_schema")
    root = tmp_path_factory.mktemp(combo)
    names, env = build_workspace(combo, root, TABLES, pg_uri, pg_schema)
    ws = Workspace.load(root, env=env)
    yield ws, names
    ws.close()


@pytest.mark.parametrize("sql", QUERIES, ids=[f"q{i:02d}" for i in range(len(QUERIES))])
def test_matches_duckdb(workspace, sql: str) -> None:  # type: ignore[no-untyped-def]
    ws, names = workspace
    want = duckdb_answer(sql.format(**{k: k for k in names}), TABLES)
    got = ws.query(sql.format(**names))
    ordered = "ORDER BY" in sql.upper().split(")")[-1]
    assert_same_rows(got, want, ordered)
    off = ws.query(sql.format(**names), pushdown=False)
    assert_same_rows(off, want, ordered)
