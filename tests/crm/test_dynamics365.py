"""Dataverse connector against the loopback emulator: OData pushdown vs a DuckDB
oracle, the $filter actually sent, paging and $top, retries, 429 budget, auth, drift."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pytest
from sqlglot import exp, parse_one

from connectors.base import ScanRequest
from connectors.crm.dynamics365 import DataverseConnector
from connectors.crm.http import reset_buckets
from connectors.emulators.dataverse import DataverseEmulator
from federation.config.model import SourceConfig
from federation.errors import Location, SourceError

COLS = ("contactid", "emailaddress1", "numberofchildren", "sample_visits", "creditlimit", "createdon", "donotemail",
        "gendercode", "_parentcustomerid_value")


def make(url: str, **opts: object) -> DataverseConnector:
    options = {"base_url": url, "token": "dv-test-token", "page_size": 50, "retry_budget": 5.0} | opts
    return DataverseConnector(SourceConfig("d365", "dynamics365", options, Location("sources.yaml"), frozenset({"token"})), Path("."))


@pytest.fixture(scope="module")
def emu():
    with DataverseEmulator() as e:
        yield e


@pytest.fixture()
def dv(emu):
    reset_buckets()
    emu.clear_faults()
    emu.clear_log()
    c = make(emu.url)
    yield c
    c.close()


def scan(conn, cols=COLS, filters=(), order=(), limit=None, table="contact") -> pa.Table:
    return conn.scan(ScanRequest(cols, table=table, columns=cols, filters=tuple(filters), order_by=tuple(order), limit=limit)).read_all()


def oracle(rows: pa.Table, where: str) -> set:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.register("t", rows)
    return {r[0] for r in con.execute(f"SELECT contactid FROM t WHERE {where}").fetchall()}


def test_discovery_types(dv):
    t = dv.table("contact")
    ty = {c.name: c.type for c in t.columns}
    assert ty["numberofchildren"] == pa.int32() and ty["sample_visits"] == pa.int64()
    assert ty["creditlimit"] == pa.float64() and ty["donotemail"] == pa.bool_()
    assert ty["gendercode"] == pa.int32() and ty["createdon"] == pa.timestamp("us", tz="UTC")
    assert ty["sample_outdooractivities"] == pa.list_(pa.int32()) and ty["_parentcustomerid_value"] == pa.string()
    rows = scan(dv, cols=("contactid", "sample_outdooractivities"))
    assert [1, 9] in rows.column("sample_outdooractivities").to_pylist() or [2, 9] in rows.column(1).to_pylist()


PREDICATES = [
    ("\"numberofchildren\" > 2", "exact"),
    ("NOT \"numberofchildren\" > 2", "exact"),
    ("\"numberofchildren\" <> 1", "exact"),
    ("\"numberofchildren\" IN (0, 3)", "exact"),
    ("\"numberofchildren\" NOT IN (0, 3)", "exact"),
    ("\"creditlimit\" BETWEEN 1000 AND 20000", "exact"),
    ("\"creditlimit\" NOT BETWEEN 1000 AND 20000", "exact"),
    ("\"creditlimit\" IS NULL OR \"sample_visits\" < 1000000", "exact"),
    ("\"gendercode\" IS NOT NULL AND NOT (\"numberofchildren\" = 1 OR \"donotemail\")", "exact"),
    ("\"donotemail\"", "exact"),
    ("NOT \"donotemail\"", "exact"),
    ("\"createdon\" >= CAST('2024-06-01 00:00:00+00' AS TIMESTAMPTZ)", "exact"),
    ("\"emailaddress1\" = 'ada3@example.com'", "inexact"),
    ("\"emailaddress1\" IN ('ADA3@EXAMPLE.COM', 'x@y.z')", "inexact"),
    ("\"emailaddress1\" LIKE 'ada%'", "inexact"),
    ("\"emailaddress1\" LIKE '%Example.COM'", "inexact"),
    ("\"emailaddress1\" ILIKE '%example.com'", "exact"),
    ("\"emailaddress1\" NOT ILIKE 'a%'", "exact"),
    ("\"emailaddress1\" <> 'x'", "unsupported"),
    ("\"emailaddress1\" LIKE 'a_b%'", "unsupported"),
    ("\"emailaddress1\" LIKE 'a%b%'", "unsupported"),
]


@pytest.mark.parametrize("where,verdict", PREDICATES)
def test_pushdown_matches_duckdb(emu, dv, where, verdict):
    full = scan(dv)
    pred = parse_one(where, dialect="postgres")
    assert dv.classify(pred, dv.table("contact")) == verdict
    if verdict == "unsupported":
        return
    emu.clear_log()
    got = scan(dv, filters=[pred])
    assert "$filter" in emu.requests("GET", r"/contacts$")[-1].query
    ids = set(got.column("contactid").to_pylist())
    if verdict == "inexact":
        assert ids >= oracle(full, where)
        ids = oracle(got, where)
    assert ids == oracle(full, where)


def test_filter_text_in_with_aliases(emu, dv):
    emu.clear_log()
    scan(dv, filters=[parse_one("\"numberofchildren\" NOT IN (1, 2)", dialect="postgres")])
    q = emu.requests("GET", r"/contacts$")[-1].query
    assert q["$filter"] == ["(Microsoft.Dynamics.CRM.NotIn(PropertyName=@p1,PropertyValues=@p2) and numberofchildren ne null)"]
    assert q["@p1"] == ["'numberofchildren'"] and q["@p2"] == ['["1", "2"]']


@pytest.mark.parametrize("n,pages", [(0, 1), (1, 1), (50, 1), (51, 2), (101, 3)])
def test_paging_boundaries(n, pages):
    with DataverseEmulator(contacts=n) as e:
        c = make(e.url)
        got = scan(c, cols=("contactid",))
        assert got.num_rows == n and len(set(got.column(0).to_pylist())) == n
        assert len(e.requests("GET", r"/contacts$")) == pages
        c.close()


def test_top_without_maxpagesize_and_large_limit(emu, dv):
    order = [exp.Ordered(this=exp.column("createdon", quoted=True), desc=True, nulls_first=False)]
    emu.clear_log()
    got = scan(dv, cols=("contactid", "createdon"), order=order, limit=7)
    q = emu.requests("GET", r"/contacts$")[-1].query
    assert q["$top"] == ["7"] and q["$orderby"] == ["createdon desc"]
    full = scan(dv)
    con = duckdb.connect()
    con.register("t", full)
    want = [r[0] for r in con.execute("SELECT contactid FROM t ORDER BY createdon DESC NULLS LAST LIMIT 7").fetchall()]
    assert got.column("contactid").to_pylist() == want
    emu.clear_log()
    got = scan(make(emu.url, page_size=20), cols=("contactid",), limit=6000)  # > 5000: paged, no $top
    assert got.num_rows == 120 and all("$top" not in r.query for r in emu.requests("GET", r"/contacts$"))


def test_ordering_mismatch_sorted_locally(emu, dv):
    order = [exp.Ordered(this=exp.column("numberofchildren", quoted=True), desc=False, nulls_first=False)]
    emu.clear_log()
    got = scan(dv, cols=("contactid", "numberofchildren"), order=order, limit=10)
    assert "$orderby" not in emu.requests("GET", r"/contacts$")[-1].query  # Dataverse puts NULLs first ascending
    vals = got.column("numberofchildren").to_pylist()
    assert vals == sorted(vals) and None not in vals


def test_nextlink_must_be_replayed_unchanged(emu, dv):
    h = {"Authorization": "Bearer dv-test-token", "Prefer": "odata.maxpagesize=10"}
    first = httpx.get(emu.url + "/api/data/v9.2/contacts?$select=fullname", headers=h).json()
    link = first["@odata.nextLink"]
    assert httpx.get(link, headers=h).status_code == 200
    bad = httpx.get(link + "&$filter=numberofchildren eq 1", headers=h)
    assert bad.status_code == 400 and "skiptoken" in bad.json()["error"]["message"]
    assert httpx.get(emu.url + "/api/data/v9.2/contacts?$skip=10", headers=h).status_code == 400


def test_native_request_estimate(dv):
    (nr,) = dv.native_request(ScanRequest(("contactid",), table="contact", columns=("contactid",)))
    assert nr.method == "GET" and nr.path.startswith("/api/data/v9.2/contacts?$select=contactid")
    assert nr.detail["estimated_requests"] == 3 and "dv-test-token" not in str(nr.to_json())


def test_retries_500_truncated_429(emu, dv):
    dv.tables()
    emu.fail_500(1)
    emu.truncate_next(1)
    emu.burst_429(2, retry_after=0)
    assert scan(dv, cols=("contactid",)).num_rows == 120
    assert dv.http.stats.retries >= 4


def test_request_budget_429_retry_after():
    with DataverseEmulator(request_budget=3, window_seconds=1.0) as e:
        c = make(e.url, page_size=50)
        assert scan(c, cols=("contactid",)).num_rows == 120  # 4 requests: the 4th waits for Retry-After
        assert any(r.status == 429 for r in e.log)


def test_auth_failure_names_source(emu):
    c = make(emu.url, token="nope")
    with pytest.raises(SourceError) as ei:
        c.tables()
    assert ei.value.exit_code == 3 and "source 'd365'" in str(ei.value) and "401" in str(ei.value)
    assert "nope" not in str(ei.value)


def test_client_credentials(emu):
    c = make(emu.url, token=None, client_id="cid", client_secret="csecret",
             token_url=emu.url + "/tenant/oauth2/v2.0/token")
    assert c.table("account").native_name == "account"


def test_schema_drift_renamed_field(emu, dv):
    dv.tables()
    emu.rename_field("emailaddress1", "emailaddress9")
    try:
        with pytest.raises(SourceError, match="no property 'emailaddress1'"):
            scan(dv, cols=("contactid", "emailaddress1"))
    finally:
        emu.clear_faults()


def test_upsert_by_alternate_key(emu):
    h = {"Authorization": "Bearer dv-test-token"}
    url = emu.url + "/api/data/v9.2/contacts(sample_externalid='ext-new')"
    assert httpx.patch(url, json={"lastname": "New"}, headers=h | {"If-Match": "*"}).status_code == 404
    assert httpx.patch(url, json={"lastname": "New"}, headers=h).status_code == 204
    assert httpx.patch(url, json={"lastname": "Newer"}, headers=h | {"If-None-Match": "*"}).status_code == 412
    emu.rows["contact"].pop()


def test_long_in_list_split_under_url_limit(emu, dv):
    full = scan(dv)
    wanted = full.column("contactid").to_pylist()[::3]
    decoys = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 900)]
    values = ", ".join(f"'{v}'" for v in wanted + decoys)
    pred = parse_one(f'"contactid" IN ({values})', dialect="postgres")
    assert dv.classify(pred, dv.table("contact")) == "exact"
    upper = parse_one(f"\"contactid\" = '{wanted[0].upper()}'", dialect="postgres")
    assert dv.classify(upper, dv.table("contact")) == "unsupported"
    emu.clear_log()
    got = scan(dv, filters=[pred], order=[exp.Ordered(this=exp.column("createdon", quoted=True), desc=True, nulls_first=False)], limit=4)
    sent = emu.requests("GET", r"/contacts$")
    assert len(sent) > 1
    con = duckdb.connect()
    con.register("t", full)
    con.register("w", pa.table({"id": wanted}))
    want = [r[0] for r in con.execute("SELECT contactid FROM t WHERE contactid IN (SELECT id FROM w) ORDER BY createdon DESC LIMIT 4").fetchall()]
    assert got.column("contactid").to_pylist() == want


def test_next_page_failure_hides_filter_values(emu):
    from federation.errors import RateLimitedError

    c = make(emu.url, page_size=10, retry_budget=0.3)
    c.tables()
    pred = parse_one("\"emailaddress1\" ILIKE '%example.com'", dialect="postgres")
    reader = c.scan(ScanRequest(("contactid",), table="contact", columns=("contactid",), filters=(pred,)))
    reader.read_next_batch()
    emu.burst_429(1000, retry_after=0.1)
    try:
        with pytest.raises(RateLimitedError) as ei:
            reader.read_all()
    finally:
        emu.clear_faults()
    text = str(ei.value)
    assert "GET /api/data/v9.2/contacts?..." in text and "example.com" not in text
