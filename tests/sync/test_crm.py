"""HubSpot and Salesforce destinations against the loopback emulators: the write endpoints
receive exactly the expected upserts, list membership changes and deletes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from connectors.emulators.hubspot import DEFAULT_TOKEN, HubSpotEmulator
from connectors.emulators.salesforce import SalesforceEmulator
from federation import Workspace
from federation.sync.runner import run_sync
from federation.sync.state import SyncState, state_dir
from tests.segments import data
from tests.sync.helpers import workspace
from connectors.emulators.salesforce import SalesforceApp

UPSERT = "/crm/v3/objects/contacts/batch/upsert"


def _de() -> list[dict[str, Any]]:
    return [c for c in data.customers() if c["country"] == "DE"]


def _norm(email: str) -> str:
    return email.strip().lower()


def _execute(root: Path, *sql: str) -> None:
    con = sqlite3.connect(root / "data" / "shop.db")
    for s in sql:
        con.execute(s)
    con.commit()
    con.close()


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HUBSPOT_TOKEN", DEFAULT_TOKEN)
    with HubSpotEmulator(contacts=0) as emu:
        yield emu


def test_hubspot_upsert_list_membership_and_mirror(tmp_path: Path, hubspot: HubSpotEmulator) -> None:
    root = workspace(tmp_path, f"""
    audiences:
      hs:
        segment: de
        key: email
        fields: {{email: email, city: country, annualrevenue: phone}}
        batch_size: 7
        destination: {{type: hubspot, base_url: "{hubspot.url}", list: Germans, rate_limit: 200}}
    """)
    de = _de()
    bad = de[3]
    # phone (a TEXT column) carries a revenue figure here; one value is not a number
    _execute(root, "UPDATE customers SET phone = CAST(customer_id * 10 AS TEXT)",
             f"UPDATE customers SET phone = 'n/a' WHERE customer_id = {bad['customer_id']}")
    hubspot.burst_429(2, retry_after=0)  # the account is rate limited at first
    hubspot.fail_500(1)
    with Workspace.load(root) as ws:
        log = run_sync(ws, "hs")
    assert log.retries == 3
    upserts = [r for r in hubspot.requests("POST", UPSERT) if r.status in (200, 207)]
    sent = [i["id"] for r in upserts for i in r.body["inputs"]]
    assert sorted(sent) == sorted(c["email"] for c in de) and len(sent) == len(set(sent))
    assert all(len(r.body["inputs"]) <= 7 for r in upserts)
    assert all(i["idProperty"] == "email" for r in upserts for i in r.body["inputs"])
    assert list(log.failed) == [bad["email"]], list(log.failed.values())[:3]
    assert "needs a number" in log.failed[bad["email"]]
    contacts = {rec["properties"]["email"]: rec for rec in hubspot.store.records["contacts"].values()}
    assert set(contacts) == {_norm(c["email"]) for c in de if c is not bad}
    assert {r["properties"]["city"] for r in contacts.values()} == {"DE"}
    (list_id, members), = hubspot.writes.members.items()
    assert hubspot.writes.lists[list_id]["name"] == "Germans"
    assert set(members) == {r["id"] for r in contacts.values()}
    state = SyncState.load(state_dir(root, "hs"))
    assert {state.refs[c["email"]] for c in de if c is not bad} == {str(r["id"]) for r in contacts.values()}

    # one German moves to France, the bad value is fixed: mirror removes exactly one member
    leaver = de[0]
    _execute(root, f"UPDATE customers SET country = 'FR' WHERE customer_id = {leaver['customer_id']}",
             f"UPDATE customers SET phone = '10' WHERE customer_id = {bad['customer_id']}")
    hubspot.clear_log()
    with Workspace.load(root) as ws:
        log = run_sync(ws, "hs", mode="mirror")
    upserts = hubspot.requests("POST", UPSERT)
    assert [i["id"] for r in upserts for i in r.body["inputs"]] == [bad["email"]]
    removes = hubspot.requests("PUT", f"/crm/v3/lists/{list_id}/memberships/remove")
    assert [r.body for r in removes] == [[state.refs[leaver["email"]]]]
    adds = hubspot.requests("PUT", f"/crm/v3/lists/{list_id}/memberships/add")
    assert len(adds) == 1 and len(adds[0].body) == 1
    assert log.counts["removed"] == 1 and log.failed == {}
    assert len(hubspot.writes.members[list_id]) == len(de) - 1
    assert _norm(leaver["email"]) in {r["properties"]["email"] for r in hubspot.store.records["contacts"].values()}


def test_hubspot_destination_from_a_declared_source(tmp_path: Path, hubspot: HubSpotEmulator,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HS_URL", hubspot.url)
    root = workspace(tmp_path, """
    sources:
      crm: {type: hubspot, base_url: "${HS_URL}", token: "${HUBSPOT_TOKEN}"}
    audiences:
      hs: {segment: de, key: email, fields: [email], destination: {type: hubspot, source: crm}}
      typo: {segment: de, key: email, fields: [email], destination: {type: hubspot, source: cmr}}
    """)
    with Workspace.load(root) as ws:
        with pytest.raises(Exception, match="mirror mode to HubSpot needs `list:`"):
            run_sync(ws, "hs", mode="mirror")
        assert hubspot.requests("POST", UPSERT) == []
        with pytest.raises(Exception, match="(?s)destination source 'cmr' is not a hubspot source.*Did you mean 'crm'"):
            run_sync(ws, "typo")
        log = run_sync(ws, "hs")
    assert log.counts["delivered"] == len(_de()) and hubspot.requests("POST", UPSERT)


def test_salesforce_upsert_by_external_id_and_mirror_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = SalesforceApp(contacts=3)
    monkeypatch.setenv("SALESFORCE_TOKEN", app.token)
    with SalesforceEmulator(app) as emu:
        root = workspace(tmp_path, f"""
        audiences:
          sf:
            segment: de
            key: External_Id__c
            fields: {{External_Id__c: customer_id, Email: email, LastName: email, Score__c: ltv}}
            batch_size: 500
            destination: {{type: salesforce, base_url: "{emu.url}", external_id: External_Id__c}}
        """)
        de = _de()
        with Workspace.load(root) as ws:
            log = run_sync(ws, "sf")
        patches = emu.requests("PATCH")
        assert [r.path for r in patches] == ["/services/data/v60.0/composite/sobjects/Contact/External_Id__c"] * len(patches)
        assert all(len(r.body["records"]) <= 200 for r in patches)  # capped at the collection limit
        sent = [rec["External_Id__c"] for r in patches for rec in r.body["records"]]
        assert sorted(sent, key=int) == [str(c["customer_id"]) for c in de]
        assert all(rec["attributes"] == {"type": "Contact"} for r in patches for rec in r.body["records"])
        rows = {r["External_Id__c"]: r for r in app.records["Contact"]}
        assert {str(c["customer_id"]) for c in de} <= set(rows)
        assert rows[str(de[0]["customer_id"])]["Email"] == de[0]["email"]
        assert log.counts["delivered"] == len(de) and log.failed == {}

        leaver = de[1]
        _execute(root, f"DELETE FROM customers WHERE customer_id = {leaver['customer_id']}")
        with Workspace.load(root) as ws:
            log = run_sync(ws, "sf", mode="mirror")
        assert app.deleted == [rows[str(leaver["customer_id"])]["Id"]]  # only the record this audience sent
        assert str(leaver["customer_id"]) not in {r["External_Id__c"] for r in app.records["Contact"]}
        assert len([r for r in app.records["Contact"] if r["External_Id__c"].startswith("ext-")]) == 3  # untouched
        assert log.counts["removed"] == 1
