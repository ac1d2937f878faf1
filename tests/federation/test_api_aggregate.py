"""The planner offers whole GROUP BY queries to API sources that aggregate (SOQL)."""

from __future__ import annotations

import pytest

from connectors.crm.http import reset_buckets
from connectors.emulators.salesforce import SalesforceApp, SalesforceEmulator
from federation import Workspace
from tests.federation.oracle import assert_same_rows


@pytest.fixture(scope="module")
def ws(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("sfagg")
    with SalesforceEmulator(SalesforceApp()) as emu:
        (root / "sources.yaml").write_text(
            "sources:\n  crm: {type: salesforce, base_url: '${SF_URL}', token: '${SF_TOKEN}'}\n")
        reset_buckets()
        w = Workspace.load(root, env={"SF_URL": emu.url, "SF_TOKEN": "sf-test-token"})
        yield w, emu
        w.close()


def test_group_by_runs_at_salesforce(ws) -> None:  # type: ignore[no-untyped-def]
    w, emu = ws
    sql = "SELECT leadsource, count(*) AS n, max(visits__c) AS mx FROM crm.contact GROUP BY leadsource"
    doc = w.explain(sql)
    assert len(doc["fragments"]) == 1
    frag = doc["fragments"][0]
    assert frag["pushed"]["aggregate"] is True
    assert doc["arrow"]["sql"] is None
    emu.clear_log()
    pushed = w.query(sql)
    assert "GROUP BY" in emu.requests("GET", r"/query$")[-1].query["q"][0]
    assert_same_rows(pushed, w.query(sql, pushdown=False).to_pylist(), ordered=False)
