"""The HubSpot emulator itself: the documented protocol details the connector relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.emulators.hubspot import HubSpotEmulator


@pytest.fixture()
def api() -> Iterator[tuple[httpx.Client, HubSpotEmulator]]:
    with HubSpotEmulator(contacts=120, search_per_second=10_000, burst_max=100_000) as emu:
        with httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {emu.token}"}) as c:
            yield c, emu  # type: ignore[misc]


def search(c: httpx.Client, *filters: dict[str, Any], **body: Any) -> httpx.Response:
    if filters:
        body["filterGroups"] = [{"filters": list(filters)}]
    return c.post("/crm/v3/objects/contacts/search", json=body)


def ids(resp: httpx.Response) -> set[int]:
    assert resp.status_code == 200, resp.text
    return {int(r["id"]) for r in resp.json()["results"]}


def f(prop: str, op: str, value: Any = None, **kw: Any) -> dict[str, Any]:
    out = {"propertyName": prop, "operator": op, **kw}
    if value is not None:
        out["value"] = value
    return out


def test_auth_required(api: Any) -> None:
    c, emu = api
    r = httpx.get(emu.url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["category"] == "INVALID_AUTHENTICATION"


def test_list_paging_and_properties(api: Any) -> None:
    c, emu = api
    first = c.get("/crm/v3/objects/contacts", params={"properties": "email,unknown_prop"}).json()
    assert len(first["results"]) == 10  # default limit
    assert set(first["results"][0]["properties"]) == {"email"}  # unknown names ignored
    seen, after = [], None
    while True:
        page = c.get("/crm/v3/objects/contacts", params={"limit": 100, **({"after": after} if after else {})}).json()
        seen += [r["id"] for r in page["results"]]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert len(seen) == len(emu.rows("contacts")) == 120 - 1  # one of 97 archived
    archived = c.get("/crm/v3/objects/contacts", params={"archived": "true"}).json()["results"]
    assert [r["archived"] for r in archived] == [True]
    assert c.get("/crm/v3/objects/contacts", params={"limit": 101}).status_code == 400


def test_search_limits_are_validated(api: Any) -> None:
    c, _ = api
    six_groups = [{"filters": [f("email", "HAS_PROPERTY")]}] * 6
    r = c.post("/crm/v3/objects/contacts/search", json={"filterGroups": six_groups})
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    assert search(c, *[f("email", "HAS_PROPERTY")] * 7).status_code == 400
    nineteen = [{"filters": [f("email", "HAS_PROPERTY")] * 4}] * 4 + [{"filters": [f("email", "HAS_PROPERTY")] * 3}]
    assert c.post("/crm/v3/objects/contacts/search", json={"filterGroups": nineteen}).status_code == 400
    assert search(c, f("nope", "EQ", "x")).status_code == 400
    assert search(c, limit=201).status_code == 400
    assert search(c, sorts=[{"propertyName": "email"}, {"propertyName": "firstname"}]).status_code == 400
    assert search(c, after="9900", limit=200).status_code == 400  # past 10,000
    assert search(c, query="x" * 3001).status_code == 400
    body = search(c, limit=5).json()
    assert body["total"] == 119 and body["paging"]["next"]["after"] == "5"
    assert set(body["results"][0]["properties"]) == {"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}


def test_neq_and_not_in_match_records_without_a_value(api: Any) -> None:
    c, emu = api
    rows = {int(r["id"]): r["properties"] for r in emu.rows("contacts")}
    no_stage = {i for i, p in rows.items() if p["lifecyclestage"] is None}
    assert no_stage
    assert no_stage <= ids(search(c, f("lifecyclestage", "NEQ", "lead"), limit=200))
    assert no_stage <= ids(search(c, f("lifecyclestage", "NOT_IN", values=["lead"]), limit=200))
    assert not no_stage & ids(search(c, f("lifecyclestage", "HAS_PROPERTY"), limit=200))


def test_case_rules(api: Any) -> None:
    c, emu = api
    rows = {int(r["id"]): r["properties"] for r in emu.rows("contacts")}
    upper = next(i for i, p in rows.items() if p["email"] and p["email"] == p["email"].upper() and "@" in p["email"])
    email = rows[upper]["email"]
    assert upper in ids(search(c, f("email", "EQ", email.lower())))  # strings: case-insensitive
    assert upper in ids(search(c, f("email", "IN", values=[email.lower()])))  # IN wants lower case
    assert upper not in ids(search(c, f("email", "IN", values=[email])))
    lead = ids(search(c, f("lifecyclestage", "EQ", "lead"), limit=200))
    assert lead and not ids(search(c, f("lifecyclestage", "EQ", "LEAD"), limit=200))  # enumerations: exact


def test_tokens_and_wildcards(api: Any) -> None:
    c, emu = api
    org = {int(r["id"]) for r in emu.rows("contacts") if r["properties"]["email"] and r["properties"]["email"].strip().lower().endswith("@example.org")}
    assert org and ids(search(c, f("email", "CONTAINS_TOKEN", "*@example.org"), limit=200)) == org
    none = ids(search(c, f("email", "NOT_CONTAINS_TOKEN", "*@example.org"), limit=200))
    assert not none & org


def test_numbers_dates_between_and_sort(api: Any) -> None:
    c, emu = api
    rows = {int(r["id"]): r["properties"] for r in emu.rows("contacts")}
    want = {i for i, p in rows.items() if p["hs_analytics_num_visits"] and 10 <= float(p["hs_analytics_num_visits"]) <= 50}
    assert ids(search(c, f("hs_analytics_num_visits", "BETWEEN", "10", highValue="50"), limit=200)) == want
    born = {i for i, p in rows.items() if p["date_of_birth"] and p["date_of_birth"] >= "1990-01-01"}
    assert ids(search(c, f("date_of_birth", "GTE", "631152000000"), limit=200)) == born  # ms epoch of 1990-01-01
    top = search(c, sorts=[{"propertyName": "annualrevenue", "direction": "DESCENDING"}], limit=3, properties=["annualrevenue"]).json()
    values = [float(r["properties"]["annualrevenue"]) for r in top["results"]]
    assert values == sorted(values, reverse=True)


def test_batch_upsert(api: Any) -> None:
    c, emu = api
    existing = next(r for r in emu.rows("contacts") if r["properties"]["email"])
    inputs = [
        {"id": existing["properties"]["email"].strip().upper(), "idProperty": "email", "properties": {"firstname": "Changed"}},
        {"id": "new.person@example.com", "idProperty": "email", "properties": {"lifecyclestage": "lead"}},
    ]
    r = c.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": inputs})
    assert r.status_code == 200
    flags = {res["properties"].get("email", ""): res["new"] for res in r.json()["results"]}
    assert flags["new.person@example.com"] is True and list(flags.values()).count(False) == 1
    bad = c.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": [{"id": "a@b.c", "idProperty": "email", "properties": {"hs_analytics_num_visits": "many"}}, inputs[1]]})
    assert bad.status_code == 207 and bad.json()["numErrors"] == 1 and len(bad.json()["results"]) == 1
    assert c.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": inputs * 51}).status_code == 400
    assert ids(search(c, f("email", "EQ", "new.person@example.com")))  # visible to search at once


def test_lists_membership(api: Any) -> None:
    c, emu = api
    created = c.post("/crm/v3/lists", json={"name": "vip", "objectTypeId": "0-1", "processingType": "MANUAL"}).json()["list"]
    lid = created["listId"]
    assert c.post("/crm/v3/lists", json={"name": "vip", "objectTypeId": "0-1", "processingType": "MANUAL"}).status_code == 400
    assert c.get("/crm/v3/lists/object-type-id/0-1/name/vip").json()["list"]["listId"] == lid
    some = [r["id"] for r in emu.rows("contacts")[:5]]
    added = c.put(f"/crm/v3/lists/{lid}/memberships/add", json=some + ["999999999"]).json()
    assert added["recordsIdsAdded"] == some and added["recordIdsMissing"] == ["999999999"]
    removed = c.put(f"/crm/v3/lists/{lid}/memberships/remove", json=some[:2]).json()
    assert removed["recordIdsRemoved"] == some[:2]
    page = c.get(f"/crm/v3/lists/{lid}/memberships", params={"limit": 2}).json()
    assert [m["recordId"] for m in page["results"]] == some[2:4] and page["paging"]["next"]["after"] == some[3]
    rest = c.get(f"/crm/v3/lists/{lid}/memberships", params={"after": page["paging"]["next"]["after"]}).json()
    assert [m["recordId"] for m in rest["results"]] == some[4:] and "paging" not in rest
    dyn = c.post("/crm/v3/lists", json={"name": "d", "objectTypeId": "0-1", "processingType": "DYNAMIC"}).json()["list"]
    assert c.put(f"/crm/v3/lists/{dyn['listId']}/memberships/add", json=some).status_code == 400


def test_data_is_deterministic() -> None:
    a, b = HubSpotEmulator(contacts=50, seed=3), HubSpotEmulator(contacts=50, seed=3)
    assert a.rows("contacts") == b.rows("contacts") and a.rows("deals") == b.rows("deals")
    assert HubSpotEmulator(contacts=50, seed=4).rows("contacts") != a.rows("contacts")


def test_dated_paths_alias_v3(api: Any) -> None:
    c, _ = api
    assert c.post("/crm/objects/2026-03/contacts/search", json={"limit": 1}).json()["total"] == 119
    assert c.get("/crm/properties/2026-03/deals").status_code == 200
