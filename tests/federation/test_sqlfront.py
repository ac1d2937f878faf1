"""The SQL front end: one read-only query, parameters as literals, positions."""

from __future__ import annotations

import pytest
from sqlglot import exp

from federation.errors import NotReadOnlyError, QueryError
from federation.sqlfront import bind_params, offset_to_position, parse_param_value, parse_query


@pytest.mark.parametrize(
    "sql, fragment",
    [
        ("SELECT 1; SELECT 2", "exactly one query"),
        ("DELETE FROM shop.customers", "DELETE"),
        ("INSERT INTO shop.customers VALUES (1)", "INSERT"),
        ("UPDATE shop.customers SET x = 1", "UPDATE"),
        ("DROP TABLE shop.customers", "DROP"),
        ("CREATE TABLE t (x int)", "CREATE"),
        ("WITH d AS (DELETE FROM shop.customers RETURNING *) SELECT * FROM d", "DELETE"),
        ("SELECT * INTO t2 FROM shop.customers", "INTO"),
        ("TRUNCATE shop.customers", "TRUNCATE"),
    ],
)
def test_only_single_read_only_queries(sql: str, fragment: str) -> None:
    with pytest.raises(NotReadOnlyError) as e:
        parse_query(sql)
    assert fragment in str(e.value).upper() or fragment in str(e.value)
    assert e.value.exit_code == 1


def test_syntax_error_has_position_and_caret() -> None:
    with pytest.raises(QueryError) as e:
        parse_query("SELECT (1 FROM x")
    text = e.value.render()
    assert "syntax error" in text
    assert "line 1, col 11" in text
    assert "^^^^" in text


def test_empty_query() -> None:
    with pytest.raises(QueryError, match="empty"):
        parse_query("   ")


def test_params_become_literals_never_text() -> None:
    q = parse_query("SELECT a FROM s.t WHERE x = :v AND y = :n")
    hostile = "'; DROP TABLE t; --"
    bound = bind_params(q, {"v": hostile, "n": 3}, "")
    lits = [lit for lit in bound.find_all(exp.Literal)]
    assert {lit.this for lit in lits} == {hostile, "3"}
    assert bound.find(exp.Drop) is None


def test_missing_param_names_it() -> None:
    q = parse_query("SELECT a FROM s.t WHERE x = :country")
    with pytest.raises(QueryError) as e:
        bind_params(q, {}, "")
    assert ":country" in str(e.value)
    assert "--param country=" in str(e.value)


@pytest.mark.parametrize("text, value", [("3", 3), ("2.5", 2.5), ("true", True), ("null", None), ("DE", "DE")])
def test_param_value_parsing(text: str, value: object) -> None:
    assert parse_param_value(text) == value


def test_offset_to_position() -> None:
    assert offset_to_position("ab\ncd", 4) == (2, 2)
    assert offset_to_position("abc", 0) == (1, 1)
