"""Zoho CRM connector over its loopback emulator: conformance, COQL placement, paging, auth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors.base import ScanRequest
from tests.crm.conformance import CrmCase, CrmConformance, duckdb_keys, read, where
from tests.crm.conftest import source_config

TOKEN = "zoho-test-token"


@pytest.fixture()
def zoho_factory(tmp_path: Path) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """make(contacts=60, emulator={...}, **options) -> (ZohoConnector, started ZohoEmulator)."""
    from connectors.crm.zoho import ZohoConnector
    from connectors.emulators.zoho import ZohoEmulator

    made: list[tuple[Any, Any]] = []

    def make(contacts: int = 60, emulator: dict[str, Any] | None = None, **options: Any) -> tuple[Any, Any]:
        emu = ZohoEmulator(token=TOKEN, contacts=contacts, **(emulator or {})).start()
        opts = {"type": "zoho", "base_url": emu.url, "token": TOKEN, "tables": ["Contacts", "Deals"],
                "retry_budget": 5.0, **options}
        opts = {k: v.replace("{emu}", emu.url) if isinstance(v, str) else v for k, v in opts.items()}
        opts = {k: v for k, v in opts.items() if v is not None}
        keys = tuple(k for k in ("token", "client_secret", "refresh_token") if k in opts)
        conn = ZohoConnector(source_config("crm", "zoho", keys, **opts), tmp_path)
        made.append((conn, emu))
        return conn, emu

    yield make
    for conn, emu in made:
        conn.close()
        emu.stop()


class TestZohoConformance(CrmConformance):
    @pytest.fixture()
    def case(self, zoho_factory: Any) -> CrmCase:
        return CrmCase(
            make=lambda rows, **opts: zoho_factory(rows, page_size=opts.pop("page_size", 25), **opts),
            table="contacts", key="id", page_size=25,
            expected_types={"id": pa.string(), "email": pa.string(), "visits": pa.int64(), "score": pa.float64(),
                            "annual_spend": pa.float64(), "email_opt_out": pa.bool_(), "date_of_birth": pa.date32(),
                            "created_time": pa.timestamp("us", tz="UTC"), "interests": pa.list_(pa.string()),
                            "account_name_id": pa.string(), "account_name": pa.string(), "owner_id": pa.string()},
            predicates={
                "visits > 10": "exact", "visits != 10": "exact", "last_name = 'smith'": "inexact",
                "email LIKE '%example.com'": "inexact", "last_name <> 'Smith'": "unsupported",
                "date_of_birth < DATE '1980-01-01'": "exact", "email_opt_out": "exact", "NOT email_opt_out": "exact",
                "created_time >= TIMESTAMP '2024-06-01 00:00:00+00'": "exact", "score BETWEEN 10 AND 50": "exact",
                "visits NOT IN (1, 2, 3)": "exact", "account_name_id IS NULL": "exact", "email IS NOT NULL": "exact",
                "lower(email) = 'a'": "unsupported", "description = 'x'": "unsupported",
                "visits > 40 OR score < 0": "exact", "NOT (visits > 5 AND score > 10)": "exact",
            },
            drift_field=("Email", "E_Mail"), drift_column="email",
            count=lambda emu: len(emu.records["Contacts"]),
        )


def coql(emu: Any) -> list[str]:
    """The COQL texts the emulator received, in order."""
    return [r.body["select_query"] for r in emu.requests("POST", r"/crm/v7/coql$")]


@pytest.fixture()
def crm(zoho_factory: Any) -> tuple[Any, Any, pa.Table]:
    conn, emu = zoho_factory(150, page_size=50)
    full = read(conn, "contacts")
    emu.clear_log()
    return conn, emu, full


OPERATORS = [
    ("visits = 12", "exact", "Visits = 12"),
    ("visits <> 12", "exact", "(Visits != 12 and Visits is not null)"),
    ("visits < 12", "exact", "Visits < 12"),
    ("visits <= 12", "exact", "Visits <= 12"),
    ("visits > 12", "exact", "Visits > 12"),
    ("visits >= 12", "exact", "Visits >= 12"),
    ("12 < visits", "exact", "Visits > 12"),
    ("score BETWEEN 10 AND 50.5", "exact", "Score between 10 and 50.5"),
    ("score NOT BETWEEN 10 AND 50", "exact", "(Score < 10 or Score > 50)"),
    ("visits IN (1, 2, 3)", "exact", "Visits in (1, 2, 3)"),
    ("visits NOT IN (1, 2, 3)", "exact", "(Visits not in (1, 2, 3) and Visits is not null)"),
    ("email LIKE 'ana%'", "inexact", "Email like 'ana%'"),
    ("email LIKE '%.org'", "inexact", "Email like '%.org'"),
    ("email LIKE '%example%'", "inexact", "Email like '%example%'"),
    ("last_name = 'O''Brien'", "inexact", "Last_Name = 'O''Brien'"),
    ("last_name IN ('smith', 'Lee')", "inexact", "Last_Name in ('smith', 'Lee')"),
    ("email IS NULL", "exact", "Email is null"),
    ("phone IS NOT NULL", "exact", "Phone is not null"),
    ("email_opt_out", "exact", "Email_Opt_Out = true"),
    ("NOT email_opt_out", "exact", "(Email_Opt_Out != true and Email_Opt_Out is not null)"),
    ("email_opt_out = false", "exact", "(Email_Opt_Out = false and Email_Opt_Out is not null)"),
    ("date_of_birth >= DATE '1990-01-01'", "exact", "Date_of_Birth >= '1990-01-01'"),
    ("created_time < TIMESTAMP '2024-06-01 12:00:00+00'", "exact", "Created_Time < '2024-06-01T12:00:00+00:00'"),
    ("account_name_id = '3388926000100000018'", "exact", "Account_Name = '3388926000100000018'"),
    ("id IN ('3388926000200000001', '3388926000200000007')", "exact", "id in ('3388926000200000001', '3388926000200000007')"),
    ("visits > 40 OR score < 0", "exact", "(Visits > 40 or Score < 0)"),
    ("NOT (visits > 5 AND score > 10)", "exact", "(Visits <= 5 or Score <= 10)"),
]


@pytest.mark.parametrize(("sql", "verdict", "sent"), OPERATORS, ids=[o[0] for o in OPERATORS])
def test_operator_is_pushed_and_right(crm: tuple[Any, Any, pa.Table], sql: str, verdict: str, sent: str) -> None:
    conn, emu, full = crm
    assert conn.classify(where(sql), conn.table("contacts")) == verdict
    got = sorted(read(conn, "contacts", ["id"], filters=(where(sql),)).column(0).to_pylist())
    want = duckdb_keys(full, "id", sql)
    if verdict == "exact":
        assert got == want
    else:
        assert set(want) <= set(got)
    assert any(sent in q for q in coql(emu)), coql(emu)
    assert all(r.status == 200 or r.status == 204 for r in emu.requests())


def test_case_insensitive_text_is_a_superset_the_engine_rechecks(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, _emu, full = crm
    got = set(read(conn, "contacts", ["id"], filters=(where("last_name = 'smith'"),)).column(0).to_pylist())
    want = set(duckdb_keys(full, "id", "last_name = 'smith'"))
    assert want < got  # 'Smith' rows came back too: that is why it is inexact


def test_null_guard_matters(zoho_factory: Any) -> None:
    """The emulator treats NULL as a value for != (pessimistic); the guard keeps SQL's answer."""
    import httpx

    conn, emu = zoho_factory(150)
    body = {"select_query": "select Visits from Contacts where Visits != 12 limit 2000"}
    raw = httpx.post(emu.url + "/crm/v7/coql", json=body, headers={"Authorization": f"Zoho-oauthtoken {TOKEN}"}).json()
    assert any(r["Visits"] is None for r in raw["data"])
    got = read(conn, "contacts", ["visits"], filters=(where("visits <> 12"),)).column(0)
    assert got.null_count == 0 and 12 not in got.to_pylist()


def test_conjuncts_are_bracketed_in_pairs(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    sqls = ["visits > 5", "score > 0", "email IS NOT NULL"]
    got = sorted(read(conn, "contacts", ["id"], filters=tuple(where(s) for s in sqls)).column(0).to_pylist())
    assert got == duckdb_keys(full, "id", " AND ".join(sqls))
    assert "where ((Visits > 5 and Score > 0) and Email is not null) order by id asc" in coql(emu)[0]


def test_no_filter_still_sends_a_where(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, _full = crm
    read(conn, "contacts", ["id", "email"])
    assert coql(emu)[0] == "select Email from Contacts where id is not null order by id asc limit 50"


def test_over_25_criteria_the_rest_is_applied_here(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    sqls = [f"visits <> {k}" for k in range(20)] + ["score > 1"]  # 2 criteria each
    assert all(conn.classify(where(s), conn.table("contacts")) == "exact" for s in sqls)
    req = ScanRequest(output_names=("id",), table="contacts", columns=("id",), filters=tuple(where(s) for s in sqls))
    applied = conn.native_request(req)[0].detail["applied_locally"]
    assert len(applied) >= 9
    got = sorted(conn.scan(req).read_all().column(0).to_pylist())
    assert got == duckdb_keys(full, "id", " AND ".join(sqls))
    assert all(r.status in (200, 204) for r in emu.requests())


def test_long_in_list_is_split_into_chunks(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    ids = full.column("id").to_pylist()[::1][:140]
    sql = "id IN (" + ", ".join(f"'{i}'" for i in ids) + ")"
    got = sorted(read(conn, "contacts", ["id"], filters=(where(sql),)).column(0).to_pylist())
    assert got == sorted(ids)
    assert coql(emu)[0].count("id in (") == 2 and " or id in (" in coql(emu)[0]


def test_key_filter_from_dynamic_filtering(crm: tuple[Any, Any, pa.Table]) -> None:
    from connectors.base import KeyFilter

    conn, emu, full = crm
    keys = pa.array(full.column("account_name_id").drop_null().to_pylist()[:5])
    req = ScanRequest(output_names=("id", "account_name_id"), table="contacts", columns=("id", "account_name_id"),
                      key_filter=KeyFilter("account_name_id", keys))
    got = conn.scan(req).read_all()
    assert set(got.column(1).to_pylist()) == set(keys.to_pylist())
    assert "Account_Name in (" in coql(emu)[0]


def test_offset_cap_restarts_by_id(zoho_factory: Any) -> None:
    conn, emu = zoho_factory(75, emulator={"max_limit": 10, "max_rows": 30}, page_size=10, max_rows=30)
    emu.clear_log()
    ids = read(conn, "contacts", ["id"]).column(0).to_pylist()
    assert len(ids) == 75 and len(set(ids)) == 75
    sent = coql(emu)
    assert any("id > '" in q for q in sent) and all(r.status in (200, 204) for r in emu.requests())
    assert len(sent) == 8  # 75 rows in pages of 10


def test_real_caps_two_pages_of_2000(zoho_factory: Any) -> None:
    conn, emu = zoho_factory(2001)
    emu.clear_log()
    assert read(conn, "contacts", ["id"]).num_rows == 2001
    assert [q.rsplit(" order by ", 1)[1] for q in coql(emu)] == ["id asc limit 2000", "id asc limit 2000 offset 2000"]


def test_limit_stops_paging(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, _full = crm
    assert read(conn, "contacts", ["id"], limit=7).num_rows == 7
    assert coql(emu) == ["select id from Contacts where id is not null order by id asc limit 7"]


def _order(sql: str) -> Any:
    import sqlglot

    return sqlglot.parse_one(f"SELECT 1 FROM t ORDER BY {sql}", read="postgres").args["order"].expressions[0]


@pytest.mark.parametrize("direction", ["ASC", "DESC", "ASC NULLS FIRST", "DESC NULLS LAST"])
def test_order_by_limit_puts_nulls_where_postgres_does(crm: tuple[Any, Any, pa.Table], direction: str) -> None:
    import duckdb

    conn, emu, full = crm
    nonnull = full.column("score").drop_null().__len__()
    # past the first phase by 3 rows, so both phases (not null / null) are read
    limit = nonnull + 3 if direction in ("ASC", "DESC NULLS LAST") else full.num_rows - nonnull + 3
    req = ScanRequest(output_names=("score",), table="contacts", columns=("score",), order_by=(_order(f"score {direction}"),), limit=limit)
    got = conn.scan(req).read_all().column(0).to_pylist()
    nulls = "NULLS LAST" if direction in ("ASC", "DESC NULLS LAST") else "NULLS FIRST"
    tbl = full  # noqa: F841 (read by DuckDB's replacement scan)
    want = [r[0] for r in duckdb.sql(f"SELECT score FROM tbl ORDER BY score {direction.split()[0]} {nulls} LIMIT {limit}").fetchall()]
    assert got == want
    sent = coql(emu)
    assert any("Score is not null" in q and "order by Score" in q for q in sent) and any("Score is null" in q for q in sent)


def test_text_order_is_sorted_here(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    req = ScanRequest(output_names=("ln",), table="contacts", columns=("last_name",), order_by=(_order("last_name"),), limit=5)
    got = conn.scan(req).read_all()
    assert got.column_names == ["ln"]
    assert got.column(0).to_pylist() == sorted(full.column("last_name").to_pylist())[:5]
    assert not any("order by Last_Name" in q for q in coql(emu))


def test_native_request_estimates_and_masks(crm: tuple[Any, Any, pa.Table]) -> None:
    import json

    conn, emu, full = crm
    req = ScanRequest(output_names=("id",), table="contacts", columns=("id",), filters=(where("visits >= 3"),))
    nr = conn.native_request(req)
    assert nr[0].method == "POST" and nr[0].path == "/crm/v7/coql" and "Visits >= 3" in nr[0].body["select_query"]
    assert TOKEN not in json.dumps([n.to_json() for n in nr])
    assert coql(emu)[-1].startswith("select COUNT(id) from Contacts where Visits >= 3")
    emu.clear_log()
    conn.scan(req).read_all()
    assert nr[0].detail["estimated_requests"] == len(coql(emu))


def test_bad_token_names_source_and_code(zoho_factory: Any) -> None:
    from federation.errors import SourceError

    conn, _emu = zoho_factory(5, token="wrong-token-99")
    with pytest.raises(SourceError, match="401 Unauthorized for GET /crm/v7/settings/fields \\(INVALID_TOKEN\\)") as ei:
        conn.tables()
    assert ei.value.exit_code == 3 and "source 'crm'" in str(ei.value) and "wrong-token-99" not in str(ei.value)


def test_oauth_refresh_on_start_and_on_expiry(zoho_factory: Any) -> None:
    conn, emu = zoho_factory(20, token=None, client_id="zcid", client_secret="zsecret", refresh_token="zrefresh",
                             accounts_url="{emu}")
    assert read(conn, "contacts", ["id"]).num_rows == 20
    emu.expire_token()
    assert read(conn, "contacts", ["id"]).num_rows == 20
    assert len(emu.requests("POST", r"/oauth/v2/token")) == 2


def test_refresh_failure_is_a_source_error(zoho_factory: Any) -> None:
    from federation.errors import SourceError

    conn, _emu = zoho_factory(5, token=None, client_id="zcid", client_secret="nope", refresh_token="zrefresh",
                              accounts_url="{emu}")
    with pytest.raises(SourceError, match="Zoho OAuth refresh failed") as ei:
        conn.tables()
    assert "nope" not in str(ei.value)


def test_renamed_field_in_the_org_is_reported(crm: tuple[Any, Any, pa.Table]) -> None:
    from federation.errors import SourceError

    conn, emu, _full = crm
    emu.rename_api_field("Contacts", "Email", "Email_Address")
    with pytest.raises(SourceError, match=r"400 Bad Request for POST /crm/v7/coql \(INVALID_QUERY: Email\)"):
        read(conn, "contacts", ["id", "email"])


def test_spent_credits_are_rate_limited(zoho_factory: Any) -> None:
    from federation.errors import RateLimitedError

    conn, emu = zoho_factory(120, emulator={"credits": 4}, page_size=50, retry_budget=0.3)
    conn.tables()  # 2 credits
    with pytest.raises(RateLimitedError, match="429 Too Many Requests for POST /crm/v7/coql"):
        read(conn, "contacts", ["id"])
    assert emu.credits_used == 4


AGGREGATES = [
    ("SELECT c.lead_source_x FROM contacts c GROUP BY 1", False),
    ("SELECT c.account_name_id, count(*) AS n, sum(c.visits) AS v, max(c.score) AS hi, avg(c.annual_spend) AS spend "
     "FROM contacts c WHERE c.visits > 3 GROUP BY c.account_name_id", True),
    ("SELECT c.email_opt_out, c.date_of_birth, count(c.email) AS n, min(c.visits) AS lo FROM contacts c "
     "GROUP BY c.email_opt_out, c.date_of_birth", True),
    ("SELECT c.last_name, count(*) AS n FROM contacts c GROUP BY c.last_name", False),  # text groups fold case
    ("SELECT c.visits, count(*) AS n FROM contacts c WHERE c.last_name = 'smith' GROUP BY c.visits", False),  # inexact
    ("SELECT count(*) AS n FROM contacts c", False),  # no GROUP BY: COQL answers 204, SQL one row
    ("SELECT c.visits, count(DISTINCT c.email) AS n FROM contacts c GROUP BY c.visits", False),
    ("SELECT c.visits, max(c.last_name) AS n FROM contacts c GROUP BY c.visits", False),
    ("SELECT c.visits, count(*) AS n FROM contacts c GROUP BY c.visits ORDER BY n DESC LIMIT 3", False),
]


@pytest.mark.parametrize(("sql", "accepted"), AGGREGATES, ids=[str(i) for i in range(len(AGGREGATES))])
def test_group_by_aggregates_vs_duckdb(crm: tuple[Any, Any, pa.Table], sql: str, accepted: bool) -> None:
    import duckdb
    import sqlglot

    conn, emu, full = crm
    q = sqlglot.parse_one(sql, read="postgres")
    assert conn.accepts(q) is accepted
    if not accepted:
        return
    names = tuple(s.alias_or_name for s in q.expressions)
    got = conn.scan(ScanRequest(output_names=names, query=q)).read_all()
    contacts = full  # noqa: F841 (read by DuckDB's replacement scan)
    want = duckdb.sql(sql).arrow().read_all()
    assert got.schema.names == list(names)
    key = [(n, "ascending") for n in names]
    assert got.num_rows == want.num_rows > 0 and _close(got.sort_by(key), want.sort_by(key))
    assert "group by" in coql(emu)[0]


def _close(a: pa.Table, b: pa.Table) -> bool:
    for ra, rb in zip(a.to_pylist(), b.to_pylist(), strict=True):
        for k in ra:
            x, y = ra[k], rb[k]
            if isinstance(x, float) or isinstance(y, float):
                assert x == pytest.approx(y), k
            else:
                assert x == y, k
    return True


def test_id_ranges_need_full_width_literals(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, _emu, full = crm
    info = conn.table("contacts")
    assert conn.classify(where("id > '5'"), info) == "unsupported"  # '5' > every id as text, < every id as a number
    sql = "id >= '3388926000200000100'"
    assert conn.classify(where(sql), info) == "exact"
    assert sorted(read(conn, "contacts", ["id"], filters=(where(sql),)).column(0).to_pylist()) == duckdb_keys(full, "id", sql)


def test_unknown_module_hint(zoho_factory: Any) -> None:
    from federation.errors import SourceError

    conn, _emu = zoho_factory(3, tables=["Contactz"])
    with pytest.raises(SourceError, match="INVALID_MODULE") as ei:
        conn.tables()
    assert "`tables`" in str(ei.value)


def test_text_key_filter_is_a_superset_and_optional(crm: tuple[Any, Any, pa.Table]) -> None:
    from connectors.base import KeyFilter

    conn, emu, _full = crm
    req = ScanRequest(output_names=("id", "last_name"), table="contacts", columns=("id", "last_name"),
                      key_filter=KeyFilter("last_name", pa.array(["smith", "Lee"])))
    got = set(conn.scan(req).read_all().column(1).to_pylist())
    assert got >= {"smith", "Lee"} and got <= {"smith", "Smith", "Lee"}  # the join after the scan re-checks
    assert "Last_Name in ('smith', 'Lee')" in coql(emu)[0]
    emu.clear_log()
    many = [f"x{i}@example.com" for i in range(2300)]  # over max_in_list: not sent at all
    req = ScanRequest(output_names=("id",), table="contacts", columns=("id",), key_filter=KeyFilter("email", pa.array(many)))
    assert conn.scan(req).read_all().num_rows == 150 and "Email in" not in coql(emu)[0]
