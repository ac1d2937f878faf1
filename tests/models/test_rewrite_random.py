"""Random filters over the profile entity: the rewritten merge (driver choice, pushed
filters, pruning) never changes the answer. Checked against the oracle view, at the
expanded-SQL level in DuckDB, and through the Arrow executor for a sample."""

from __future__ import annotations

import random

import pytest

from tests.models.data import ENTITIES_YAML, make_sources
from tests.models.helpers import canon, duck, executor_ready, make_ws, rows
from tests.models.test_merge import ORACLE_CUSTOMERS

DATA = make_sources(150, seed=21)
PREDICATES = [
    "lifecycle_stage = 'lead'", "lifecycle_stage <> 'customer'", "lifecycle_stage IS NULL",
    "lifecycle_stage IS NOT NULL", "upper(lifecycle_stage) LIKE 'C%'", "lifecycle_stage IN ('lead', 'evangelist')",
    "country = 'FR'", "country IN ('DE', 'US')", "country IS NULL", "coalesce(country, 'none') = 'none'",
    "lifetime_value > 250", "lifetime_value BETWEEN 10 AND 100", "NOT (lifetime_value < 300)",
    "phone LIKE '+33%'", "phone IS NULL", "email LIKE 'user1%'", "email = 'user7@example.com'",
    "(country = 'FR' OR lifecycle_stage = 'lead')", "_sources = 'crm'", "phone__source = 'shop'",
]
COLUMNS = ["email", "lifecycle_stage", "country", "lifetime_value", "phone", "phone__source", "_sources"]


def _queries(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        cols = rng.sample(COLUMNS, rng.randint(1, 3))
        conds = rng.sample(PREDICATES, rng.randint(1, 3))
        out.append(f"SELECT {', '.join(cols)} FROM customers WHERE {' AND '.join(conds)}")
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):  # type: ignore[no-untyped-def]
    con = duck(DATA)
    con.execute(f"CREATE VIEW oracle_customers AS {ORACLE_CUSTOMERS}")
    ws = make_ws(tmp_path_factory.mktemp("random"), DATA, "memory", ENTITIES_YAML)
    yield ws, con
    ws.close()


def test_random_filters_at_the_sql_level(env) -> None:  # type: ignore[no-untyped-def]
    ws, con = env
    for sql in _queries(40, seed=1):
        want = rows(con, sql.replace("FROM customers", "FROM oracle_customers"))
        assert canon(rows(con, ws.plan(sql).sql)) == canon(want), sql


@pytest.mark.skipif(not executor_ready(), reason="Arrow executor not present yet")
def test_random_filters_through_the_executor(env) -> None:  # type: ignore[no-untyped-def]
    ws, con = env
    for sql in _queries(8, seed=2):
        want = rows(con, sql.replace("FROM customers", "FROM oracle_customers"))
        assert canon(ws.query(sql).to_pylist()) == canon(want), sql
