"""Placement over real connectors (two SQLite files and Parquet): where entity filters run."""

from __future__ import annotations

import pytest

from federation import Workspace
from tests.models.data import make_sources
from tests.models.helpers import canon, duck, executor_ready, rows
from tests.models.workspace import build

DATA = make_sources(80, seed=2)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):  # type: ignore[no-untyped-def]
    w = Workspace.load(build(tmp_path_factory.mktemp("placement"), DATA), env={})
    yield w
    w.close()


def _sql(doc: dict, source: str) -> str:  # type: ignore[type-arg]
    frags = [f for f in doc["fragments"] if f["source"] == source]
    assert frags, f"no {source} fragment"
    return " ".join(f["request"].get("sql", "") for f in frags)


def test_filter_on_crm_only_field_runs_in_the_crm_fragment(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain("SELECT email, country FROM customers WHERE lifecycle_stage = 'lead'")
    assert "\"lifecyclestage\" = 'lead'" in _sql(doc, "crm")
    assert "lifecyclestage" not in _sql(doc, "shop")
    notes = ws.model.last_expansion_notes
    assert "entity customers: merge crm (base), shop (left)" in notes
    assert any(n.startswith("entity customers: filter pushed into crm") for n in notes)


def test_shop_only_query_never_touches_the_crm(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain("SELECT country, count(*) AS n FROM customers WHERE lifetime_value > 100 GROUP BY country")
    assert {f["source"] for f in doc["fragments"]} == {"shop"}
    assert ws.model.last_pruned == {"customers": ["crm"]}
    assert any("pruned sources" in n and n.endswith("crm") for n in ws.model.last_expansion_notes)


def test_membership_keeps_every_source_without_a_filter(ws) -> None:  # type: ignore[no-untyped-def]
    # a customer seen only in the CRM is a row with country NULL: the CRM cannot be pruned
    doc = ws.explain("SELECT country FROM customers")
    assert {f["source"] for f in doc["fragments"]} == {"crm", "shop"}


def test_members_declared_prunes_without_a_filter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.models.data import ENTITIES_YAML

    text = ENTITIES_YAML.replace("  pii: [email, phone]", "  pii: [email, phone]\n  members: [shop]")
    w = Workspace.load(build(tmp_path, DATA, text), env={})
    doc = w.explain("SELECT country FROM customers")
    assert {f["source"] for f in doc["fragments"]} == {"shop"}
    con = duck(DATA)
    got = rows(con, w.plan("SELECT email, lifecycle_stage FROM customers").sql.replace('"files"."orders"', "shop.orders"))
    want = rows(con, "SELECT DISTINCT lower(trim(s.email)) AS email, c.lifecyclestage AS lifecycle_stage "
                     "FROM shop.customers s LEFT JOIN crm.contacts c ON lower(trim(c.email)) = lower(trim(s.email)) "
                     "WHERE s.email IS NOT NULL")
    assert canon(got) == canon(want)
    w.close()


def test_relation_join_reads_entity_and_parquet(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain("SELECT c.email, sum(o.amount) AS total FROM customers c JOIN orders o "
                     "ON o.customer_email = c.email WHERE o.amount > 50 GROUP BY c.email")
    files = [f for f in doc["fragments"] if f["source"] == "files"]
    assert files and any("amount" in x for x in files[0]["pushed"]["filters"])


@pytest.mark.skipif(not executor_ready(), reason="Arrow executor not present yet")
def test_federated_rows_equal_expanded_sql_in_duckdb(ws) -> None:  # type: ignore[no-untyped-def]
    con = duck(DATA)
    for sql in ("SELECT email, country, lifecycle_stage, phone, _sources FROM customers",
                "SELECT email, country FROM customers WHERE lifecycle_stage = 'lead'",
                "SELECT country FROM customers WHERE lifetime_value > 100"):
        want = rows(con, ws.plan(sql).sql.replace('"files"."orders"', "shop.orders"))
        assert canon(ws.query(sql).to_pylist()) == canon(want), sql
