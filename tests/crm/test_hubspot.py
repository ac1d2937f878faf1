"""HubSpot connector over its loopback emulator: conformance, pushdown placement, paging."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from connectors.crm.types import timestamp_type
from tests.crm.conformance import CrmCase, CrmConformance, duckdb_keys, read, where

# Each operator: SQL conjunct, verdict, the HubSpot operators the search must carry.
OPERATORS: list[tuple[str, str, set[str]]] = [
    ("lifecyclestage = 'lead'", "exact", {"EQ"}),
    ("email = 'peggy.smith1@example.com'", "inexact", {"EQ"}),
    ("lifecyclestage != 'lead'", "exact", {"NEQ", "HAS_PROPERTY"}),
    ("hs_analytics_num_visits < 50", "exact", {"LT"}),
    ("hs_analytics_num_visits <= 50", "exact", {"LTE"}),
    ("annualrevenue > 500000.5", "exact", {"GT"}),
    ("hs_analytics_num_visits >= 150", "exact", {"GTE"}),
    ("hs_analytics_num_visits BETWEEN 10 AND 20", "exact", {"BETWEEN"}),
    ("lifecyclestage IN ('lead', 'customer')", "exact", {"IN"}),
    ("email IN ('ERIN.SMITH2@EXAMPLE.COM', 'peggy.smith1@example.com')", "inexact", {"IN"}),
    ("lifecyclestage NOT IN ('lead', 'customer')", "exact", {"NOT_IN", "HAS_PROPERTY"}),
    ("city IS NOT NULL", "exact", {"HAS_PROPERTY"}),
    ("interests IS NULL", "exact", {"NOT_HAS_PROPERTY"}),
    ("email LIKE '%example.org%'", "inexact", {"CONTAINS_TOKEN"}),
    ("email LIKE 'bob%'", "inexact", {"CONTAINS_TOKEN"}),
    ("firstname ILIKE '%li%'", "inexact", {"CONTAINS_TOKEN"}),
    ("date_of_birth >= DATE '1990-01-01'", "exact", {"GTE"}),
    ("notes_last_contacted < TIMESTAMP '2020-06-01 00:00:00'", "exact", {"LT"}),
    ("hs_email_optout = true", "exact", {"EQ"}),
    ("hs_email_optout != true", "exact", {"NEQ", "HAS_PROPERTY"}),
    ("id IN (1003, 1010, 1020)", "exact", {"IN"}),
    ("(lifecyclestage = 'lead' OR hs_analytics_num_visits > 190) AND city IS NULL", "exact", {"EQ", "GT", "NOT_HAS_PROPERTY"}),
    ("lifecyclestage = 'lead' OR lower(city) = 'paris'", "unsupported", set()),
    ("(lifecyclestage = 'lead' AND lower(city) = 'paris') OR hs_analytics_num_visits > 190", "inexact", {"EQ", "GT"}),
    ("email != 'x@y.z'", "unsupported", set()),
    ("email < 'b'", "unsupported", set()),
    ("email LIKE 'a_b%'", "unsupported", set()),
    ("createdat > TIMESTAMP '2020-01-01 00:00:00'", "unsupported", set()),
    ("notes_last_contacted < TIMESTAMP '2020-06-01 00:00:00.000001'", "unsupported", set()),
]


class TestHubSpotConformance(CrmConformance):
    @pytest.fixture()
    def case(self, hubspot_factory: Any) -> CrmCase:
        return CrmCase(
            make=lambda rows, **opts: hubspot_factory(rows, emulator={"archived_every": 0}, **opts),
            table="contacts",
            key="id",
            page_size=100,
            expected_types={
                "id": pa.int64(),
                "email": pa.string(),
                "hs_analytics_num_visits": pa.float64(),
                "hs_email_optout": pa.bool_(),
                "date_of_birth": pa.date32(),
                "createdate": timestamp_type(),
                "interests": pa.list_(pa.string()),
                "createdat": timestamp_type(),
            },
            predicates={sql: verdict for sql, verdict, _ in OPERATORS},
            drift_field=("email", "e_mail"),
            drift_column="email",
            count=lambda emu: len(emu.rows("contacts")),
            rows=400,
        )


@pytest.fixture(scope="module")
def crm(tmp_path_factory: Any) -> Any:
    """One read-only emulator and connector for the module (tests clear the log, never inject faults)."""
    from connectors.crm.hubspot import HubSpotConnector
    from connectors.emulators.hubspot import HubSpotEmulator
    from tests.crm.conftest import FAST_HUBSPOT, FAST_HUBSPOT_OPTIONS, source_config

    emu = HubSpotEmulator(contacts=400, **FAST_HUBSPOT).start()
    opts = {"type": "hubspot", "base_url": emu.url, "token": emu.token, **FAST_HUBSPOT_OPTIONS}
    conn = HubSpotConnector(source_config("crm", "hubspot", **opts), tmp_path_factory.mktemp("ws"))
    yield conn, emu, read(conn, "contacts")
    conn.close()
    emu.stop()


def _sent_operators(emu: Any) -> set[str]:
    ops: set[str] = set()
    for r in emu.requests("POST", r"/search$"):
        for g in r.body.get("filterGroups", []):
            ops |= {f["operator"] for f in g["filters"]}
    return ops


@pytest.mark.parametrize(("sql", "verdict", "operators"), [o for o in OPERATORS if o[1] != "unsupported"], ids=lambda v: v if isinstance(v, str) else "")
def test_operator_is_pushed_and_right(crm: tuple[Any, Any, pa.Table], sql: str, verdict: str, operators: set[str]) -> None:
    conn, emu, full = crm
    emu.clear_log()
    got = read(conn, "contacts", filters=(where(sql),))
    want = duckdb_keys(full, "id", sql)
    # placement: the filter travelled in the search body; no unfiltered list read
    assert operators <= _sent_operators(emu)
    assert not emu.requests("GET", r"/crm/v3/objects/contacts$")
    if verdict == "exact":
        assert sorted(got.column("id").to_pylist()) == want
    else:
        assert set(want) <= set(got.column("id").to_pylist())
        assert duckdb_keys(got, "id", sql) == want  # what the engine's re-check leaves
    assert len(want) > 0, "pick a predicate that matches something"


def test_case_insensitive_match_is_a_superset_the_engine_rechecks(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    sql = "email = 'erin.smith2@example.com'"  # stored as ERIN.SMITH2@EXAMPLE.COM
    got = read(conn, "contacts", ["id", "email"], filters=(where(sql),))
    assert got.column("email").to_pylist() == ["ERIN.SMITH2@EXAMPLE.COM"]
    assert duckdb_keys(got, "id", sql) == [] == duckdb_keys(full, "id", sql)


def test_no_filter_uses_list_endpoint_with_projection(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    emu.clear_log()
    got = read(conn, "contacts", ["id", "email"])
    assert got.num_rows == full.num_rows
    lists = emu.requests("GET", r"/crm/v3/objects/contacts$")
    assert len(lists) == -(-full.num_rows // 100) and not emu.requests("POST")
    assert lists[0].query["properties"] == ["email"] and lists[0].query["limit"] == ["100"]


def test_search_pages_are_200_and_counted(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    emu.clear_log()
    sql = "hs_analytics_num_visits >= 0"
    got = read(conn, "contacts", ["id"], filters=(where(sql),))
    n = len(duckdb_keys(full, "id", sql))
    searches = emu.requests("POST", r"/search$")
    assert got.num_rows == n and len(searches) == -(-n // 200)
    assert all(r.body["limit"] == 200 and r.body["sorts"][0]["propertyName"] == "hs_object_id" for r in searches)


def test_result_cap_is_split_by_key_range(hubspot_factory: Any) -> None:
    conn, emu = hubspot_factory(500, emulator={"search_cap": 60}, search_result_cap=60, search_page_size=20)
    full = read(conn, "contacts")
    sql = "hs_analytics_num_visits >= 5 OR city IS NULL"
    emu.clear_log()
    got = read(conn, "contacts", ["id"], filters=(where(sql),)).column(0).to_pylist()
    want = duckdb_keys(full, "id", sql)
    assert sorted(got) == want and len(got) == len(set(got)) and len(want) > 300
    searches = emu.requests("POST", r"/search$")
    assert all(r.status == 200 for r in searches)
    splits = [r for r in searches if any(f["operator"] == "GT" and f["propertyName"] == "hs_object_id" for g in r.body["filterGroups"] for f in g["filters"])]
    assert len(splits) >= len(want) // 60 - 1
    assert len(searches) == -(-len(want) // 20)  # splitting costs no extra request
    (est,) = conn.native_request(_request(("id",), (where(sql),)))
    assert est.detail["estimated_requests"] == len(searches) and est.detail["cap_splits"] == len(want) // 60


def test_real_10000_cap(hubspot_factory: Any) -> None:
    conn, emu = hubspot_factory(10_300, emulator={"archived_every": 0})
    conn.tables()
    emu.clear_log()
    got = read(conn, "contacts", ["id"], filters=(where("id >= 1000"),)).column(0).to_pylist()
    assert len(got) == 10_300 == len(set(got))
    searches = emu.requests("POST", r"/search$")
    assert all(r.status == 200 for r in searches) and len(searches) == 52
    assert max(int(r.body.get("after", 0)) for r in searches) == 9_800


def _request(cols: tuple[str, ...], filters: tuple[Any, ...] = (), **kw: Any) -> Any:
    from connectors.base import ScanRequest

    return ScanRequest(output_names=cols, table="contacts", columns=cols, filters=filters, **kw)


def test_limit_stops_paging(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, _ = crm
    emu.clear_log()
    got = conn.scan(_request(("id",), (where("hs_analytics_num_visits >= 0"),), limit=7)).read_all()
    (search,) = emu.requests("POST", r"/search$")
    assert got.num_rows == 7 and search.body["limit"] == 7


def test_order_by_with_limit_matches_duckdb(crm: tuple[Any, Any, pa.Table]) -> None:
    import duckdb

    conn, _, full = crm
    import sqlglot

    order = tuple(sqlglot.parse_one("SELECT 1 FROM t ORDER BY annualrevenue DESC, id", read="postgres").args["order"].expressions)
    got = conn.scan(_request(("id", "annualrevenue"), (where("city IS NOT NULL"),), order_by=order, limit=15)).read_all()
    con = duckdb.connect()
    con.register("t", full)
    want = con.execute("SELECT id FROM t WHERE city IS NOT NULL ORDER BY annualrevenue DESC NULLS FIRST, id LIMIT 15").fetchall()
    assert got.column("id").to_pylist() == [r[0] for r in want]


def test_too_many_conjuncts_fall_back_to_connector_filtering(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    sqls = [f"hs_analytics_num_visits != {i}" for i in range(5)] + ["lifecyclestage IN ('lead', 'customer', 'other')"]
    assert all(conn.classify(where(s), conn._info("contacts")) == "exact" for s in sqls)
    emu.clear_log()
    got = read(conn, "contacts", ["id"], filters=tuple(where(s) for s in sqls))
    want = duckdb_keys(full, "id", " AND ".join(sqls))
    assert sorted(got.column("id").to_pylist()) == want and want
    for r in emu.requests("POST", r"/search$"):
        assert r.status == 200 and all(len(g["filters"]) <= 6 for g in r.body["filterGroups"])


def test_or_over_group_limit_is_unsupported(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, _, _ = crm
    info = conn._info("contacts")
    five = " OR ".join(f"hs_analytics_num_visits = {i}" for i in range(5))
    six = " OR ".join(f"hs_analytics_num_visits = {i}" for i in range(6))
    assert conn.classify(where(five), info) == "exact"
    assert conn.classify(where(six), info) == "unsupported"


def test_native_request_masks_token_and_estimates(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    (nr,) = conn.native_request(_request(("id", "email"), (where("lifecyclestage = 'lead'"),)))
    doc = nr.to_json()
    assert doc["method"] == "POST" and doc["path"] == "/crm/v3/objects/contacts/search"
    assert emu.token not in repr(doc) and doc["headers"]["Authorization"] == "Bearer [secure]"
    assert doc["estimated_rows"] == len(duckdb_keys(full, "id", "lifecyclestage = 'lead'")) and doc["estimated_requests"] == 1
    assert emu.token not in repr(conn)


def test_association_tables(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    pairs = read(conn, "contact_companies")
    want = sorted((r["id"], r["associatedcompanyid"]) for r in full.select(["id", "associatedcompanyid"]).to_pylist() if r["associatedcompanyid"] is not None)
    assert sorted(zip(pairs.column(0).to_pylist(), pairs.column(1).to_pylist())) == want
    deals = read(conn, "deal_contacts")
    assert deals.num_rows >= len(emu.rows("deals"))


def test_values_convert_from_wire_strings(crm: tuple[Any, Any, pa.Table]) -> None:
    import datetime as dt

    conn, emu, full = crm
    wire = emu.rows("contacts")[1]
    row = full.filter(pa.compute.equal(full["id"], int(wire["id"]))).to_pylist()[0]
    p = wire["properties"]
    assert row["email"] == p["email"]
    assert row["createdat"] == dt.datetime.fromisoformat(wire["createdAt"].replace("Z", "+00:00"))
    assert row["interests"] == (p["interests"].split(";") if p["interests"] else None)
    assert row["hs_analytics_num_visits"] == (float(p["hs_analytics_num_visits"]) if p["hs_analytics_num_visits"] else None)


def test_dynamic_key_filter_becomes_in_chunks(crm: tuple[Any, Any, pa.Table]) -> None:
    from connectors.base import KeyFilter

    conn, emu, full = crm
    keys = full.column("id").to_pylist()[:150]
    emu.clear_log()
    got = conn.scan(_request(("id", "email"), key_filter=KeyFilter("id", pa.array(keys)))).read_all()
    assert sorted(got.column("id").to_pylist()) == sorted(keys)
    searches = emu.requests("POST", r"/search$")
    assert [len(r.body["filterGroups"][0]["filters"][0]["values"]) for r in searches] == [100, 50]
    emails = [e for e in full.column("email").to_pylist()[:20] if e]
    got = conn.scan(_request(("id", "email"), key_filter=KeyFilter("email", pa.array(emails)))).read_all()
    assert set(emails) <= set(got.column("email").to_pylist())  # a superset: the join re-checks


def test_config_and_discovery_errors(hubspot_factory: Any, tmp_path: Any) -> None:
    from connectors.crm.hubspot import HubSpotConnector
    from federation.errors import ConfigError, SourceError
    from tests.crm.conftest import source_config

    with pytest.raises(ConfigError, match="source 'crm' needs a token"):
        HubSpotConnector(source_config("crm", "hubspot", type="hubspot", base_url="http://127.0.0.1:1"), tmp_path)
    conn, _ = hubspot_factory(5, tables=["contacts", "tickets"])
    with pytest.raises(SourceError, match=r"source 'crm': answered 400 Bad Request for GET /crm/v3/properties/tickets \(VALIDATION_ERROR\)"):
        conn.tables()
    ok, _ = hubspot_factory(5, tables=["contacts"])
    ok.check()
    assert [t.name for t in ok.tables()] == ["contacts"]  # association tables need both ends


@pytest.mark.parametrize(
    "order",
    ["annualrevenue DESC", "annualrevenue", "annualrevenue DESC NULLS LAST", "notes_last_contacted NULLS FIRST", "id DESC", "date_of_birth"],
)
@pytest.mark.parametrize("sql", [None, "lifecyclestage IN ('lead', 'customer')"])
def test_top_n_is_sorted_by_hubspot(crm: tuple[Any, Any, pa.Table], order: str, sql: str | None) -> None:
    import duckdb
    import sqlglot

    conn, emu, full = crm
    key = sqlglot.parse_one(f"SELECT 1 FROM t ORDER BY {order}", read="postgres").args["order"].expressions
    emu.clear_log()
    filters = (where(sql),) if sql else ()
    got = conn.scan(_request(("id", key[0].this.name), filters, order_by=tuple(key), limit=300)).read_all()
    con = duckdb.connect()
    con.register("t", full)
    want = con.execute(f"SELECT id FROM t {'WHERE ' + sql if sql else ''} ORDER BY {key[0].sql(dialect='duckdb')}, id LIMIT 300").fetchall()
    value = dict(zip(full.column("id").to_pylist(), full.column(key[0].this.name).to_pylist()))
    assert got.column(1).to_pylist() == [value[r[0]] for r in want]  # the sort key's values, ties in any order
    assert not emu.requests("GET", r"/crm/v3/objects/contacts$")  # no full read
    assert all(r.body["limit"] <= 200 for r in emu.requests("POST", r"/search$"))
    (nr,) = conn.native_request(_request(("id",), filters, order_by=tuple(key), limit=300))
    assert nr.detail["top_n"]["limit"] == 300


def test_limit_zero_sends_nothing(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, _ = crm
    emu.clear_log()
    assert conn.scan(_request(("id",), limit=0)).read_all().num_rows == 0
    assert not emu.requests()


def test_row_estimates_from_search_total(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    assert conn._info("contacts").row_estimate == full.num_rows == len(emu.rows("contacts"))
    emu.clear_log()
    (nr,) = conn.native_request(_request(("id",)))
    assert nr.method == "GET" and nr.detail["estimated_requests"] == -(-full.num_rows // 100)
    assert not emu.requests()  # the estimate came from discovery


def test_association_table_honours_order_and_limit(crm: tuple[Any, Any, pa.Table]) -> None:
    import sqlglot

    conn, _, _ = crm
    order = tuple(sqlglot.parse_one("SELECT 1 FROM t ORDER BY company_id DESC, contact_id", read="postgres").args["order"].expressions)
    cols = ("contact_id", "company_id")
    from connectors.base import ScanRequest

    got = conn.scan(ScanRequest(output_names=cols, table="contact_companies", columns=cols, order_by=order, limit=5)).read_all()
    every = read(conn, "contact_companies").sort_by([("company_id", "descending"), ("contact_id", "ascending")])
    assert got.to_pylist() == every.slice(0, 5).to_pylist()
