"""Every oracle query, over three source combinations, equals DuckDB's answer;
and pushdown off gives the same rows as pushdown on."""

from __future__ import annotations

import pytest

from tests.federation.oracle import COMBOS, assert_same_rows, combo_workspace, duckdb_answer
from tests.federation.oracle_data import make_tables
from tests.federation.oracle_queries import QUERIES

TABLES = make_tables()


@pytest.fixture(scope="module", params=COMBOS)
def workspace(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    _, ws, names = combo_workspace(request, tmp_path_factory, TABLES)
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
