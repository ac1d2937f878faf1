"""The Dataverse emulator's OData grammar and protocol details, over loopback HTTP."""

from __future__ import annotations

import httpx
import pytest

from connectors.emulators.dataverse import DataverseEmulator
from connectors.emulators.odata_parser import ODataError, parse_filter

H = {"Authorization": "Bearer dv-test-token"}


@pytest.fixture(scope="module")
def emu():
    with DataverseEmulator(contacts=40) as e:
        yield e


def get(emu, query: str, headers=None):
    return httpx.get(f"{emu.url}/api/data/v9.2/contacts?{query}", headers=H | (headers or {}))


def ids(emu, flt: str, extra: str = "") -> set[str]:
    r = get(emu, f"$select=contactid&$filter={flt}{extra}")
    assert r.status_code == 200, r.text
    return {v["contactid"] for v in r.json()["value"]}


def rows(emu):
    return emu.rows["contact"]


def test_parse_shapes_and_errors():
    assert parse_filter("not (a eq 1 or b ne 'x''y') and contains(c,'z')")[0] == "and"
    node = parse_filter("Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)", {"@p1": "'a'", "@p2": '["1","2"]'})
    assert node == ("crm", "In", "a", ("1", "2"))
    for bad in ["a eq", "a like 'x'", "Microsoft.Dynamics.CRM.Nope(PropertyName='a',PropertyValues=[])", "a eq @p9"]:
        with pytest.raises(ODataError):
            parse_filter(bad)


def test_case_insensitive_strings_and_functions(emu):
    some = next(r for r in rows(emu) if r["emailaddress1"])
    assert some["contactid"] in ids(emu, f"emailaddress1 eq '{some['emailaddress1'].upper().replace(chr(39), chr(39) * 2)}'")
    want = {r["contactid"] for r in rows(emu) if r["emailaddress1"] and r["emailaddress1"].lower().endswith("example.com")}
    assert ids(emu, "endswith(emailaddress1,'EXAMPLE.COM')") == want


def test_three_valued_logic(emu):
    nulls = {r["contactid"] for r in rows(emu) if r["numberofchildren"] is None}
    assert ids(emu, "numberofchildren eq null") == nulls
    assert not nulls & ids(emu, "numberofchildren ne 1")
    assert not nulls & ids(emu, "not (numberofchildren eq 1)")


def test_in_between_aliases_and_types(emu):
    want = {r["contactid"] for r in rows(emu) if r["numberofchildren"] in (1, 3)}
    got = ids(emu, "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)", "&@p1='numberofchildren'&@p2=[\"1\",\"3\"]")
    assert got == want
    want = {r["contactid"] for r in rows(emu) if r["createdon"] >= "2024-06-01T00:00:00Z"}
    assert ids(emu, "createdon ge 2024-06-01T00:00:00Z") == want
    r = get(emu, "$filter=createdon ge 'yesterday'")
    assert r.status_code == 400 and "incompatible" in r.json()["error"]["message"]


def test_select_keeps_primary_key_and_unsupported_options(emu):
    r = get(emu, "$select=fullname&$top=2")
    assert r.status_code == 200 and set(r.json()["value"][0]) == {"@odata.etag", "contactid", "fullname"}
    assert len(r.json()["value"]) == 2
    for opt in ("$skip=2", "$search=x", "$Select=fullname"):
        bad = get(emu, opt)
        assert bad.status_code == 400 and "not supported" in bad.json()["error"]["message"]


def test_maxpagesize_ignores_top_and_echoes(emu):
    r = get(emu, "$select=fullname&$top=3", {"Prefer": "odata.maxpagesize=10"})
    assert len(r.json()["value"]) == 10 and r.headers["Preference-Applied"] == "odata.maxpagesize=10"
    assert "$skiptoken=" in r.json()["@odata.nextLink"]
    assert get(emu, "", {"Prefer": "odata.maxpagesize=5001"}).status_code == 400


def test_count_and_count_segment(emu):
    r = get(emu, "$select=contactid&$count=true&$filter=donotemail eq true", {"Prefer": "odata.maxpagesize=1"})
    assert r.json()["@odata.count"] == sum(1 for x in rows(emu) if x["donotemail"])
    prefer = 'odata.maxpagesize=1,odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"'
    doc = get(emu, "$select=contactid&$count=true", {"Prefer": prefer}).json()
    assert doc["@Microsoft.Dynamics.CRM.totalrecordcount"] == len(rows(emu))
    assert doc["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is False
    c = httpx.get(f"{emu.url}/api/data/v9.2/contacts/$count", headers=H)
    assert c.text == str(len(rows(emu)))


def test_metadata_and_errors(emu):
    r = httpx.get(f"{emu.url}/api/data/v9.2/EntityDefinitions(LogicalName='contact')", headers=H)
    doc = r.json()
    assert doc["EntitySetName"] == "contacts" and doc["PrimaryIdAttribute"] == "contactid"
    kinds = {a["LogicalName"]: a["AttributeType"] for a in doc["Attributes"]}
    assert kinds["parentcustomerid"] == "Lookup" and kinds["creditlimit"] == "Money"
    missing = httpx.get(f"{emu.url}/api/data/v9.2/EntityDefinitions(LogicalName='nope')", headers=H)
    assert missing.status_code == 404 and "error" in missing.json()
    assert httpx.get(f"{emu.url}/api/data/v9.2/contacts", headers={}).status_code == 401
