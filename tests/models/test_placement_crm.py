"""A filter on a CRM-only field reaches the CRM's own filter language (Salesforce SOQL
over loopback HTTP to the emulator)."""

from __future__ import annotations

import textwrap

import pytest

from connectors.emulators.salesforce import SalesforceApp, SalesforceEmulator
from federation import Workspace
from tests.models.data import make_sources
from tests.models.helpers import TYPES
from tests.models.sqlite_stub import write_sqlite

MODEL = """\
sources:
  crm: {type: salesforce, base_url: "${SF_URL}", token: "${SF_TOKEN}"}
  shop: {type: sqlite, path: shop.db}
entities:
  customers:
    key: email
    merge:
      - from: crm.contact
        fields: {email: "lower(email)", lead_source: leadsource, first_name: firstname}
        unique: true
      - from: shop.customers
        fields: {email: "lower(trim(email))", country: country}
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("crm")
    write_sqlite(root / "shop.db", {"customers": make_sources(30)["shop"]["customers"]}, TYPES)
    (root / "workspace.yaml").write_text(textwrap.dedent(MODEL))
    with SalesforceEmulator(SalesforceApp()) as emu:
        w = Workspace.load(root, env={"SF_URL": emu.url, "SF_TOKEN": "sf-test-token"})
        yield w
        w.close()


def test_crm_only_filter_is_in_the_soql(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain("SELECT email, country, first_name FROM customers WHERE lead_source = 'Web'")
    crm = next(f for f in doc["fragments"] if f["source"] == "crm")
    assert crm["request"]["kind"] == "http"
    assert "FROM Contact WHERE LeadSource = 'Web'" in crm["request"]["path"]
    shop = next(f for f in doc["fragments"] if f["source"] == "shop")
    assert "Web" not in shop["request"]["sql"]


def test_shop_only_query_sends_nothing_to_the_crm(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain("SELECT email FROM customers WHERE country = 'FR'")
    assert {f["source"] for f in doc["fragments"]} == {"shop"}


HUBSPOT_MODEL = """\
sources:
  crm: {type: hubspot, base_url: "${HUBSPOT_URL}", token: "${HUBSPOT_TOKEN}"}
  shop: {type: sqlite, path: shop.db}
entities:
  customers:
    key: email
    merge:
      - from: crm.contacts
        fields: {email: "lower(trim(email))", lifecycle_stage: lifecyclestage}
        updated_at: lastmodifieddate
        unique: true
      - from: shop.customers
        fields: {email: "lower(trim(email))", country: country}
"""


@pytest.fixture(scope="module")
def hubspot_ws(tmp_path_factory):  # type: ignore[no-untyped-def]
    from connectors.emulators.hubspot import HubSpotEmulator

    root = tmp_path_factory.mktemp("hubspot")
    write_sqlite(root / "shop.db", {"customers": make_sources(30)["shop"]["customers"]}, TYPES)
    (root / "workspace.yaml").write_text(textwrap.dedent(HUBSPOT_MODEL))
    emu = HubSpotEmulator(contacts=40).start()
    try:
        w = Workspace.load(root, env={"HUBSPOT_URL": emu.url, "HUBSPOT_TOKEN": emu.token})
        yield w
        w.close()
    finally:
        emu.stop()


def test_crm_only_filter_is_in_the_hubspot_search_body(hubspot_ws) -> None:  # type: ignore[no-untyped-def]
    doc = hubspot_ws.explain("SELECT email, country FROM customers WHERE lifecycle_stage = 'customer'")
    crm = next(f for f in doc["fragments"] if f["source"] == "crm")
    filters = [f for g in crm["request"]["body"]["filterGroups"] for f in g["filters"]]
    assert {"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"} in filters
    # the key's presence goes down too: lower(trim(email)) is NULL exactly when email is
    assert {"propertyName": "email", "operator": "HAS_PROPERTY"} in filters
    got = hubspot_ws.query("SELECT email, lifecycle_stage FROM customers WHERE lifecycle_stage = 'customer'")
    assert got.num_rows > 0 and set(got["lifecycle_stage"].to_pylist()) == {"customer"}
