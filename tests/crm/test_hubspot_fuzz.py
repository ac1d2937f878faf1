"""Seeded random predicates: whatever the HubSpot connector pushes, the rows stay right.

For conjuncts E (classified exact) and I (inexact) read together, the connector's
rows R must satisfy every E exactly, and R filtered by I must equal DuckDB's
answer for E AND I over the unfiltered read.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.crm.conformance import duckdb_keys, read, where

ATOMS = [
    "lifecyclestage = 'lead'",
    "lifecyclestage != 'customer'",
    "lifecyclestage IN ('opportunity', 'evangelist')",
    "lifecyclestage NOT IN ('lead', 'other')",
    "lifecyclestage IS NULL",
    "hs_analytics_num_visits < 40",
    "hs_analytics_num_visits >= 120",
    "hs_analytics_num_visits BETWEEN 60 AND 90",
    "hs_analytics_num_visits != 7",
    "hs_analytics_num_visits IS NULL",
    "annualrevenue > 250000",
    "date_of_birth < DATE '1975-01-01'",
    "notes_last_contacted >= TIMESTAMP '2020-09-01 00:00:00'",
    "hs_email_optout = false",
    "city IS NOT NULL",
    "city = 'Paris'",
    "city IN ('Tokyo', 'Berlin')",
    "email LIKE '%example.com%'",
    "firstname ILIKE 'a%'",
    "lower(city) = 'paris'",
    "interests IS NULL",
    "id > 1200",
]


def _tree(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.4:
        return rng.choice(ATOMS)
    op = rng.choice(["AND", "OR"])
    return f"({_tree(rng, depth - 1)} {op} {_tree(rng, depth - 1)})"


@pytest.fixture(scope="module")
def crm_module(tmp_path_factory: Any) -> Any:
    from connectors.crm.hubspot import HubSpotConnector
    from connectors.emulators.hubspot import HubSpotEmulator
    from tests.crm.conftest import FAST_HUBSPOT, FAST_HUBSPOT_OPTIONS, source_config

    emu = HubSpotEmulator(contacts=500, **FAST_HUBSPOT).start()
    conn = HubSpotConnector(
        source_config("crm", "hubspot", type="hubspot", base_url=emu.url, token=emu.token, **FAST_HUBSPOT_OPTIONS), tmp_path_factory.mktemp("ws")
    )
    yield conn, read(conn, "contacts")
    conn.close()
    emu.stop()


@pytest.mark.parametrize("seed", range(40))
def test_random_predicates(crm_module: Any, seed: int) -> None:
    conn, full = crm_module
    rng = random.Random(seed)
    conjuncts = [_tree(rng, 2) for _ in range(rng.randint(1, 3))]
    info = conn._info("contacts")
    verdicts = {c: conn.classify(where(c), info) for c in conjuncts}
    pushed = [c for c in conjuncts if verdicts[c] != "unsupported"]
    exact = [c for c in pushed if verdicts[c] == "exact"]
    got = read(conn, "contacts", filters=tuple(where(c) for c in pushed))
    got_ids = sorted(got.column("id").to_pylist())
    assert len(got_ids) == len(set(got_ids))
    if exact:
        assert duckdb_keys(got, "id", " AND ".join(exact)) == got_ids, f"an exact conjunct did not hold: {exact}"
    if pushed:
        assert duckdb_keys(got, "id", " AND ".join(pushed)) == duckdb_keys(full, "id", " AND ".join(pushed)), conjuncts
    else:
        assert got.num_rows == full.num_rows


def test_the_fuzz_pushes_something(crm_module: Any) -> None:
    conn, _ = crm_module
    info = conn._info("contacts")
    seen = {conn.classify(where(_tree(random.Random(s), 2)), info) for s in range(40)}
    assert seen == {"exact", "inexact", "unsupported"}
