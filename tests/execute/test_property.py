"""Random predicates over mixed-type columns with NULLs: the executor agrees with DuckDB."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.execute.harness import check


def _table(n: int = 40, seed: int = 7) -> pa.Table:
    rng = random.Random(seed)

    def maybe(v: object) -> object:
        return None if rng.random() < 0.2 else v

    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "i": pa.array([maybe(rng.randint(-5, 5)) for _ in range(n)], pa.int64()),
        "j": pa.array([maybe(rng.randint(-3, 3)) for _ in range(n)], pa.int32()),
        "f": pa.array([maybe(rng.choice([-1.5, 0.0, 0.25, 2.0, 3.75])) for _ in range(n)], pa.float64()),
        "s": pa.array([maybe(rng.choice(["a", "B", "ab", "", "b "])) for _ in range(n)], pa.string()),
        "b": pa.array([maybe(rng.random() < 0.5) for _ in range(n)], pa.bool_()),
        "d": pa.array([maybe(dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 5))) for _ in range(n)],
                      pa.date32()),
    })


TABLES = {"p": _table()}

OPS = st.sampled_from(["=", "<>", "<", "<=", ">", ">="])
INT_TERM = st.one_of(
    st.sampled_from(["i", "j", "i + j", "i - j", "i * 2", "-i", "abs(j)", "coalesce(i, j, 0)"]),
    st.integers(-6, 6).map(str),
)
NUM_TERM = st.one_of(INT_TERM, st.sampled_from(["f", "f * 2", "f + i", "0.5"]))
STR_TERM = st.sampled_from(["s", "'a'", "'ab'", "''", "lower(s)", "upper(s)", "s || 'x'"])
DATE_TERM = st.sampled_from(["d", "DATE '2024-01-03'", "d + 1"])


@st.composite
def comparison(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["num", "str", "date", "null", "in", "bool", "between"]))
    if kind == "num":
        return f"{draw(NUM_TERM)} {draw(OPS)} {draw(NUM_TERM)}"
    if kind == "str":
        return f"{draw(STR_TERM)} {draw(OPS)} {draw(STR_TERM)}"
    if kind == "date":
        return f"{draw(DATE_TERM)} {draw(OPS)} {draw(DATE_TERM)}"
    if kind == "null":
        col = draw(st.sampled_from(["i", "j", "f", "s", "b", "d"]))
        return f"{col} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    if kind == "in":
        items = draw(st.lists(st.one_of(st.integers(-4, 4).map(str), st.just("NULL")), min_size=1, max_size=4))
        neg = draw(st.sampled_from(["", "NOT "]))
        return f"{draw(st.sampled_from(['i', 'j', 'i + 1']))} {neg}IN ({', '.join(items)})"
    if kind == "between":
        lo, hi = sorted(draw(st.lists(st.integers(-5, 5), min_size=2, max_size=2)))
        return f"i BETWEEN {lo} AND {hi}"
    return draw(st.sampled_from(["b", "NOT b", "b IS TRUE", "b IS NOT FALSE", "b = (i > 0)"]))


PREDICATE = st.recursive(
    comparison(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"({t[0]} AND {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} OR {t[1]})"),
        inner.map(lambda p: f"NOT ({p})"),
    ),
    max_leaves=6,
)


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(PREDICATE)
def test_random_predicates_match_duckdb(pred: str) -> None:
    # DuckDB runs the same optimized tree: sqlglot's simplifier has its own bugs (below)
    check(f"SELECT id FROM p WHERE {pred}", TABLES, same_tree=True)
    check(f"SELECT id, ({pred}) AS v FROM p", TABLES, same_tree=True)


@pytest.mark.xfail(strict=True, reason="sqlglot 30.30 simplify merges `i > 0 AND 0 <= i` into `i >= 0` "
                                       "(a reversed comparison takes the wrong bound); found by the test above")
def test_sqlglot_simplify_keeps_reversed_range_bounds() -> None:
    check("SELECT id FROM p WHERE i > 0 AND 0 <= i", TABLES)
