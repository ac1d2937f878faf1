"""The Salesforce emulator's protocol logic, without sockets: SOQL grammar, typed
literals, relative dates, null rules, errors, paging, limits header, upsert."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

import pytest

from connectors.emulators.salesforce import SalesforceApp
from connectors.emulators.soql_parser import SoqlError, parse

AUTH = {"Authorization": "Bearer sf-test-token"}


@pytest.fixture(scope="module")
def app():
    return SalesforceApp(today=date(2025, 6, 15))


def q(app, soql, headers=None):
    return app.handle("GET", "/services/data/v60.0/query?q=" + quote(soql), AUTH | (headers or {}), None)


def ids(app, where, obj="Contact"):
    status, _h, body = q(app, f"SELECT Id FROM {obj} WHERE {where}", {"Sforce-Query-Options": "batchSize=2000"})
    assert status == 200, body
    return {r["Id"] for r in body["records"]}


def rows(app, obj="Contact"):
    return app.records[obj]


def test_parse_shapes():
    p = parse("SELECT Id, COUNT(Email) n FROM Contact WHERE (A = 1 OR B != null) AND C IN ('x') GROUP BY Id ORDER BY Id DESC NULLS LAST LIMIT 5 OFFSET 2")
    assert p.sobject == "Contact" and p.limit == 5 and p.offset == 2 and p.order_by[0].nulls_first is False
    for bad, msg in [("SELECT Id FROM Contact WHERE A = 1 AND B = 2 OR C = 3", "parentheses"),
                     ('SELECT Id FROM Contact WHERE Name = "x"', "single quotes"),
                     ("SELECT Id FROM", "expecting")]:
        with pytest.raises(SoqlError, match=msg) as ei:
            parse(bad)
        assert ei.value.code == "MALFORMED_QUERY"


def test_strings_ignore_case_and_like(app):
    want = {r["Id"] for r in rows(app) if r["Email"] and r["Email"].lower().endswith("@example.com") and r["Email"].lower().startswith("ada")}
    assert ids(app, "Email LIKE 'ADA%@EXAMPLE.COM'") == want
    assert ids(app, "Email LIKE 'a_a%'") == {r["Id"] for r in rows(app) if r["Email"] and r["Email"].lower().startswith("ada")}


def test_null_semantics(app):
    nulls = {r["Id"] for r in rows(app) if r["Visits__c"] is None}
    assert ids(app, "Visits__c = null") == nulls
    assert nulls <= ids(app, "Visits__c != 3")  # null is a value: != keeps nulls
    assert not nulls & ids(app, "Visits__c < 100")
    assert ids(app, "HasOptedOutOfEmail = false") == {r["Id"] for r in rows(app) if not r["HasOptedOutOfEmail"]}


def test_typed_date_literals(app):
    assert ids(app, "Birthdate > 1990-01-01") == {r["Id"] for r in rows(app) if r["Birthdate"] and r["Birthdate"] > "1990-01-01"}
    status, _h, body = q(app, "SELECT Id FROM Contact WHERE Birthdate > 1990-01-01T00:00:00Z")
    assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD" and "type date" in body[0]["message"]
    status, _h, body = q(app, "SELECT Id FROM Contact WHERE CreatedDate > '2024-01-01'")
    assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD"


def test_relative_dates_use_the_clock(app):
    last = ids(app, "CreatedDate = LAST_N_DAYS:365")
    want = {r["Id"] for r in rows(app) if "2024-06-15" <= r["CreatedDate"][:10] <= "2025-06-15"}
    assert last == want
    assert ids(app, "CreatedDate > TODAY") == {r["Id"] for r in rows(app) if r["CreatedDate"][:10] > "2025-06-15"}
    assert ids(app, "Birthdate = YESTERDAY") == {r["Id"] for r in rows(app) if r["Birthdate"] == "2025-06-14"}


def test_includes_excludes(app):
    def has(r, *vals):
        got = {v.lower() for v in (r["Interests__c"] or "").split(";") if v}
        return all(v.lower() in got for v in vals)

    assert ids(app, "Interests__c INCLUDES ('golf;hiking', 'Sailing')") == {
        r["Id"] for r in rows(app) if has(r, "golf", "hiking") or has(r, "sailing")}
    assert ids(app, "Interests__c EXCLUDES ('Golf')") == {r["Id"] for r in rows(app) if not has(r, "golf")}


def test_count_offset_and_errors(app):
    status, _h, body = q(app, "SELECT COUNT() FROM Contact WHERE Visits__c > 10")
    assert status == 200 and body["records"] == [] and body["totalSize"] == sum(1 for r in rows(app) if (r["Visits__c"] or -1) > 10)
    status, _h, body = q(app, "SELECT Id FROM Contact ORDER BY Id LIMIT 3 OFFSET 2")
    assert [r["Id"] for r in body["records"]] == sorted(r["Id"] for r in rows(app))[2:5]
    assert q(app, "SELECT Id FROM Contact OFFSET 2001")[2][0]["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"
    assert q(app, "SELECT Nope FROM Contact")[2][0]["errorCode"] == "INVALID_FIELD"
    assert q(app, "SELECT Id FROM Contact WHERE")[2][0]["errorCode"] == "MALFORMED_QUERY"
    status, _h, body = app.handle("GET", "/services/data/v60.0/query?q=SELECT+Id+FROM+Contact", {}, None)
    assert status == 401 and body[0]["errorCode"] == "INVALID_SESSION_ID"


def test_group_by_expr_aliases_and_order(app):
    status, _h, body = q(app, "SELECT LeadSource, COUNT(Id), MAX(Visits__c) top FROM Contact GROUP BY LeadSource ORDER BY LeadSource DESC NULLS LAST")
    recs = body["records"]
    assert recs[0]["attributes"]["type"] == "AggregateResult" and set(recs[0]) == {"attributes", "LeadSource", "expr0", "top"}
    assert recs[-1]["LeadSource"] is None
    assert sum(r["expr0"] for r in recs) == len(rows(app))


def test_paging_clamp_and_limit_header(app):
    status, headers, body = q(app, "SELECT Id FROM Contact", {"Sforce-Query-Options": "batchSize=50"})
    assert len(body["records"]) == 200 and body["done"] is False and body["totalSize"] == 250  # clamped up to 200
    assert headers["Sforce-Limit-Info"].startswith("api-usage=")
    status, _h, nxt = app.handle("GET", body["nextRecordsUrl"], AUTH, None)
    assert status == 200 and len(nxt["records"]) == 50 and nxt["done"] is True and "nextRecordsUrl" not in nxt


def test_composite_upsert():
    app = SalesforceApp(contacts=3)
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "External_Id__c": "ext-1", "LastName": "Changed"},
        {"attributes": {"type": "Contact"}, "External_Id__c": "ext-new", "LastName": "New"},
        {"attributes": {"type": "Contact"}, "External_Id__c": "ext-bad", "Bogus__c": 1},
    ]}
    import json

    status, _h, res = app.handle("PATCH", "/services/data/v60.0/composite/sobjects/Contact/External_Id__c", AUTH, json.dumps(body).encode())
    assert status == 200
    assert [r["success"] for r in res] == [True, True, False] and [r["created"] for r in res] == [False, True, False]
    assert app.records["Contact"][0]["LastName"] == "Changed" and len(app.records["Contact"]) == 4
    too_many = {"records": [{"External_Id__c": f"e{i}"} for i in range(201)]}
    status, _h, res = app.handle("PATCH", "/services/data/v60.0/composite/sobjects/Contact/External_Id__c", AUTH, json.dumps(too_many).encode())
    assert status == 400 and res[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_collections_delete_answers_per_id() -> None:
    from connectors.emulators.salesforce import SalesforceApp

    app = SalesforceApp(contacts=5)
    rid = app.records["Contact"][0]["Id"]
    status, _, body = app._api("DELETE", "v60.0", "/composite/sobjects", f"ids={rid},003000000000BAD", {}, None)
    assert status == 200
    assert body[0] == {"id": rid, "success": True, "errors": []}
    assert body[1]["success"] is False and body[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert app.deleted == [rid]
    status, _, body = app._api("DELETE", "v60.0", "/composite/sobjects", "ids=" + ",".join(["x"] * 201), {}, None)
    assert status == 400
