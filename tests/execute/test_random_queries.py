"""Seeded random join + aggregate + window queries, executor vs DuckDB on the same SQL."""

from __future__ import annotations

import random

import pytest

from tests.execute.data import all_tables
from tests.execute.harness import check

TABLES = all_tables()
NUM = ["c.age", "c.ltv", "o.qty", "o.amount", "c.id"]
PREDS = ["c.age > 30", "o.qty < 5", "c.country = 'DE'", "o.status IS NULL", "c.vip", "c.ltv BETWEEN 100 AND 3000",
         "o.amount > 50", "c.name LIKE '%n%'", "o.created_at < TIMESTAMP '2024-06-01 00:00:00+00'", "NOT c.vip"]
AGGS = ["count(*)", "count({n})", "sum({n})", "avg({n})", "min({n})", "max({n})", "count(DISTINCT {n})"]
WINDOWS = ["row_number() OVER (PARTITION BY {g} ORDER BY {n} NULLS LAST, c.id, o.id)",
           "sum({n}) OVER (PARTITION BY {g})", "rank() OVER (ORDER BY {n} NULLS FIRST)",
           "lag({n}) OVER (PARTITION BY {g} ORDER BY c.id, o.id)",
           "avg({n}) OVER (ORDER BY c.id, o.id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"]
JOINS = ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"]


def _where(rng: random.Random) -> str:
    if rng.random() >= 0.7:
        return ""
    out = f" WHERE {rng.choice(PREDS)}"
    if rng.random() < 0.5:
        out += f" {rng.choice(['AND', 'OR'])} {rng.choice(PREDS)}"
    return out


def _query(rng: random.Random) -> str:
    extra = f" AND {rng.choice(PREDS)}" if rng.random() < 0.4 else ""
    frm = f"FROM customers c {rng.choice(JOINS)} orders o ON c.id = o.customer_id{extra}{_where(rng)}"
    if rng.random() < 0.5:
        keys = rng.sample(["c.country", "c.vip", "o.status", "c.age % 3"], rng.randint(0, 2))
        sel = [f"{k} AS g{i}" for i, k in enumerate(keys)]
        sel += [f"{a.format(n=rng.choice(NUM))} AS a{i}" for i, a in enumerate(rng.sample(AGGS, 3))]
        group = f" GROUP BY {', '.join(keys)}" if keys else ""
        having = f" HAVING count(*) > {rng.randint(0, 5)}" if keys and rng.random() < 0.4 else ""
        return f"SELECT {', '.join(sel)} {frm}{group}{having}"
    g = rng.choice(["c.country", "o.status", "c.vip"])
    sel = [f"{w.format(n=rng.choice(NUM), g=g)} AS w{i}" for i, w in enumerate(rng.sample(WINDOWS, 2))]
    return f"SELECT c.id, o.id AS oid, {', '.join(sel)} {frm}"


_RNG = random.Random(20261124)
RANDOM_QUERIES = [_query(_RNG) for _ in range(80)]


@pytest.mark.parametrize("sql", RANDOM_QUERIES)
def test_random_query_matches_duckdb(sql: str) -> None:
    check(sql, TABLES)
