"""Pipedrive connector over its loopback emulator: conformance, parameter placement, paging."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors.base import ScanRequest
from tests.crm.conformance import CrmCase, CrmConformance, duckdb_keys, read, where
from tests.crm.conftest import source_config

TOKEN = "pd-test-token"


@pytest.fixture()
def pd_factory(tmp_path: Path) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """make(persons=60, emulator={...}, **options) -> (PipedriveConnector, started PipedriveEmulator)."""
    from connectors.crm.pipedrive import PipedriveConnector
    from connectors.emulators.pipedrive import PipedriveEmulator

    made: list[tuple[Any, Any]] = []

    def make(persons: int = 60, emulator: dict[str, Any] | None = None, **options: Any) -> tuple[Any, Any]:
        emu = PipedriveEmulator(token=TOKEN, persons=persons, **{"burst": 10_000, **(emulator or {})}).start()
        opts = {"type": "pipedrive", "base_url": emu.url, "token": TOKEN, "retry_budget": 5.0, **options}
        conn = PipedriveConnector(source_config("crm", "pipedrive", **opts), tmp_path)
        made.append((conn, emu))
        return conn, emu

    yield make
    for conn, emu in made:
        conn.close()
        emu.stop()


def _no_filters_calls(emu: Any) -> None:
    assert not emu.requests(path=r"/filters"), "the connector must never touch saved filters"
    assert not any("filter_id" in r.query for r in emu.requests()), "filter_id must never be sent"


class TestPipedriveConformance(CrmConformance):
    @pytest.fixture()
    def case(self, pd_factory: Any) -> CrmCase:
        return CrmCase(
            make=lambda rows, **opts: pd_factory(rows, page_size=opts.pop("page_size", 25), **opts),
            table="persons", key="id", page_size=25,
            expected_types={"id": pa.int64(), "name": pa.string(), "email": pa.string(), "emails": pa.list_(pa.string()),
                            "owner_id": pa.int64(), "org_id": pa.int64(), "update_time": pa.timestamp("us", tz="UTC"),
                            "customer_tier": pa.string(), "customer_tier_id": pa.int64(), "lifetime_value": pa.float64(),
                            "lifetime_value_currency": pa.string(), "birthday": pa.date32(),
                            "interests": pa.list_(pa.string()), "interests_ids": pa.list_(pa.int64()),
                            "label_ids": pa.list_(pa.int64())},
            predicates={
                "id = 7": "exact", "id IN (1, 5, 9, 400)": "exact", "owner_id = 2": "exact", "org_id = 3": "exact",
                "update_time >= TIMESTAMP '2024-06-01 00:00:00+00'": "exact",
                "update_time < TIMESTAMP '2024-06-01 00:00:00+00'": "exact",
                "update_time > TIMESTAMP '2024-06-01 00:00:00+00'": "inexact",
                "update_time <= TIMESTAMP '2024-06-01 00:00:00+00'": "inexact",
                "update_time >= TIMESTAMP '2024-06-01 00:00:00.250+00'": "inexact",
                "update_time BETWEEN TIMESTAMP '2024-03-01 00:00:00+00' AND TIMESTAMP '2024-06-01 00:00:00+00'": "inexact",
                "name = 'Ana Kim'": "unsupported", "owner_id > 1": "unsupported", "id > 5": "unsupported",
                "customer_tier = 'Gold'": "unsupported", "owner_id = 1 OR owner_id = 2": "unsupported",
            },
            drift_field=("emails", "email_addresses"), drift_column="email",
            count=lambda emu: len(emu.records["persons"]),
        )


T = "TIMESTAMP '2024-06-01 00:00:00+00'"


@pytest.fixture()
def crm(pd_factory: Any) -> Iterator[tuple[Any, Any, pa.Table]]:
    conn, emu = pd_factory(150, page_size=40)
    full = read(conn, "persons")
    emu.clear_log()
    yield conn, emu, full
    _no_filters_calls(emu)


def lists(emu: Any, obj: str = "persons") -> list[dict[str, str]]:
    """Query parameters of each v2 list request, flattened."""
    return [{k: v[-1] for k, v in r.query.items()} for r in emu.requests("GET", rf"^/api/v2/{obj}$")]


PARAMS = [
    ("id = 7", "exact", {"ids": "7"}),
    ("id IN (1, 5, 9, 400)", "exact", {"ids": "1,5,9,400"}),
    ("owner_id = 2", "exact", {"owner_id": "2"}),
    ("org_id = 3", "exact", {"org_id": "3"}),
    (f"update_time >= {T}", "exact", {"updated_since": "2024-06-01T00:00:00Z"}),
    (f"update_time < {T}", "exact", {"updated_until": "2024-06-01T00:00:00Z"}),
    (f"update_time > {T}", "inexact", {"updated_since": "2024-06-01T00:00:00Z"}),
    (f"update_time <= {T}", "inexact", {"updated_until": "2024-06-01T00:00:01Z"}),
    ("update_time < TIMESTAMP '2024-06-01 00:00:00.5+00'", "inexact", {"updated_until": "2024-06-01T00:00:01Z"}),
    (f"update_time = {T}", "inexact", {"updated_since": "2024-06-01T00:00:00Z", "updated_until": "2024-06-01T00:00:01Z"}),
]


@pytest.mark.parametrize(("sql", "verdict", "sent"), PARAMS, ids=[p[0] for p in PARAMS])
def test_parameter_is_pushed_and_right(crm: tuple[Any, Any, pa.Table], sql: str, verdict: str, sent: dict[str, str]) -> None:
    conn, emu, full = crm
    assert conn.classify(where(sql), conn.table("persons")) == verdict
    got = sorted(read(conn, "persons", ["id"], filters=(where(sql),)).column(0).to_pylist())
    want = duckdb_keys(full, "id", sql)
    assert got == want if verdict == "exact" else set(want) <= set(got)
    assert lists(emu)[0].items() >= sent.items()


def test_deal_parameters(pd_factory: Any) -> None:
    conn, emu = pd_factory(60, page_size=40)
    full = read(conn, "deals")
    emu.clear_log()
    sqls = ["status = 'won'", "stage_id = 2", "person_id = 5"]
    info = conn.table("deals")
    assert [conn.classify(where(s), info) for s in sqls] == ["exact"] * 3
    assert conn.classify(where("status = 'nope'"), info) == "unsupported"
    got = sorted(read(conn, "deals", ["id"], filters=tuple(where(s) for s in sqls[:2])).column(0).to_pylist())
    assert got == duckdb_keys(full, "id", " AND ".join(sqls[:2]))
    assert lists(emu, "deals")[0].items() >= {"status": "won", "stage_id": "2"}.items()
    _no_filters_calls(emu)


def test_conjuncts_intersect_and_contradictions_send_nothing(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, _full = crm
    got = read(conn, "persons", ["id"], filters=(where("id IN (1, 2, 3)"), where("id = 2"))).column(0).to_pylist()
    assert got == [2] and lists(emu)[0]["ids"] == "2"
    emu.clear_log()
    assert read(conn, "persons", ["id"], filters=(where("owner_id = 1"), where("owner_id = 2"))).num_rows == 0
    assert read(conn, "persons", ["id"], filters=(where(f"update_time >= {T}"), where(f"update_time < {T}"))).num_rows == 0
    assert lists(emu) == []


def test_long_id_list_is_split_by_100(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, _full = crm
    ids = list(range(1, 251, 1))
    sql = "id IN (" + ", ".join(map(str, ids)) + ")"
    got = sorted(read(conn, "persons", ["id"], filters=(where(sql),)).column(0).to_pylist())
    assert got == list(range(1, 151))
    chunks = list(dict.fromkeys(p["ids"] for p in lists(emu)))  # a chunk of 100 ids takes several pages of 40
    assert [len(c.split(",")) for c in chunks] == [100, 100, 50]


def _order(sql: str) -> Any:
    import sqlglot

    return sqlglot.parse_one(f"SELECT 1 FROM t ORDER BY {sql}", read="postgres").args["order"].expressions[0]


def _top(conn: Any, order: str, limit: int, filters: tuple[Any, ...] = ()) -> list[Any]:
    key = order.split()[0]
    cols = ("id",) if key == "id" else ("id", key)
    req = ScanRequest(output_names=cols, table="persons", columns=cols, filters=filters, order_by=(_order(order),), limit=limit)
    return conn.scan(req).read_all().column(0).to_pylist()


def test_order_by_id_and_add_time_are_pushed(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    assert _top(conn, "id DESC", 5) == [150, 149, 148, 147, 146]
    assert lists(emu) == [{"sort_by": "id", "sort_direction": "desc", "limit": "5"}]
    emu.clear_log()
    got = _top(conn, "add_time", 4)
    assert got == full.sort_by("add_time").column("id").to_pylist()[:4]
    assert lists(emu)[0]["sort_by"] == "add_time"


def test_update_time_order_needs_a_bound_else_sorted_here(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    want = full.sort_by([("update_time", "descending")]).column("id").to_pylist()
    assert _top(conn, "update_time DESC", 3) == want[:3]
    assert "sort_by" not in lists(emu)[0] and len(lists(emu)) == 4  # every page: 150 rows / 40
    emu.clear_log()
    bound = (where("update_time >= TIMESTAMP '2024-01-01 00:00:00+00'"),)
    assert _top(conn, "update_time DESC", 3, bound) == want[:3]
    assert lists(emu) == [{"updated_since": "2024-01-01T00:00:00Z", "sort_by": "update_time", "sort_direction": "desc", "limit": "3"}]


def test_limit_and_cursor_paging(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, _full = crm
    assert read(conn, "persons", ["id"], limit=45).num_rows == 45
    sent = lists(emu)
    assert [p["limit"] for p in sent] == ["40", "40"] and "cursor" not in sent[0] and sent[1]["cursor"]
    emu.clear_log()
    assert read(conn, "persons", ["id"]).num_rows == 150
    assert len(lists(emu)) == 4


def test_custom_fields_are_renamed_and_decoded(crm: tuple[Any, Any, pa.Table]) -> None:
    from connectors.emulators.pipedrive_data import field_key

    conn, emu, _full = crm
    cols = ["id", "customer_tier", "customer_tier_id", "lifetime_value", "lifetime_value_currency", "interests", "email", "emails"]
    got = {r["id"]: r for r in read(conn, "persons", cols).to_pylist()}
    tier, ltv, interests = (field_key("persons", n) for n in ("Customer Tier", "Lifetime Value", "Interests"))
    labels = {1: "Gold", 2: "Silver", 3: "Bronze", 10: "Golf", 11: "Hiking", 12: "Sailing"}
    for rec in emu.records["persons"]:
        row, cf = got[rec["id"]], rec["custom_fields"]
        assert row["customer_tier_id"] == cf[tier] and row["customer_tier"] == labels.get(cf[tier])
        assert row["lifetime_value"] == (cf[ltv] or {}).get("value") and row["lifetime_value_currency"] == (cf[ltv] or {}).get("currency")
        assert row["interests"] == ([labels[i] for i in cf[interests]] if cf[interests] else None)
        assert row["emails"] == [e["value"] for e in rec["emails"]]
        assert row["email"] == next((e["value"] for e in rec["emails"] if e["primary"]), None)
    assert set(lists(emu)[0]["custom_fields"].split(",")) == {tier, ltv, interests}


def test_native_request_has_no_token_and_estimates(crm: tuple[Any, Any, pa.Table]) -> None:
    import json

    conn, emu, _full = crm
    req = ScanRequest(output_names=("id",), table="persons", columns=("id",), filters=(where("id IN (1, 2, 3)"),))
    nr = conn.native_request(req)
    assert nr[0].method == "GET" and nr[0].path == "/api/v2/persons?ids=1%2C2%2C3&limit=40"
    assert nr[0].detail["estimated_requests"] == 1 and nr[0].detail["estimate"] == "exact"
    assert TOKEN not in json.dumps([n.to_json() for n in nr])
    assert lists(emu) == []  # explaining sends nothing


def test_bad_token(pd_factory: Any) -> None:
    from federation.errors import SourceError

    conn, _emu = pd_factory(3, token="bad-token-123")
    with pytest.raises(SourceError, match=r"401 Unauthorized for GET /v1/personFields \(unauthorized access\)") as ei:
        conn.tables()
    assert ei.value.exit_code == 3 and "bad-token-123" not in str(ei.value) and "token was refused" in str(ei.value)


def test_burst_window_is_waited_out(pd_factory: Any) -> None:
    conn, emu = pd_factory(60, emulator={"burst": 3, "burst_seconds": 0.3}, tables=["persons"], page_size=20)
    assert read(conn, "persons", ["id"]).num_rows == 60
    statuses = [r.status for r in emu.requests()]
    assert 429 in statuses and statuses[-1] == 200


def test_daily_budget_spent_is_rate_limited(pd_factory: Any) -> None:
    from federation.errors import RateLimitedError

    conn, emu = pd_factory(60, emulator={"daily_tokens": 40}, tables=["persons"], page_size=20, retry_budget=0.3)
    with pytest.raises(RateLimitedError, match="429 Too Many Requests for GET /api/v2/persons"):
        read(conn, "persons", ["id"])
    assert emu.tokens_used == 40


def test_unknown_object_is_refused(pd_factory: Any) -> None:
    from federation.errors import SourceError

    with pytest.raises(SourceError, match="has no object 'person'") as ei:
        pd_factory(3, tables=["person"])
    assert "persons" in str(ei.value)


def test_parameter_in_lists_fan_out(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, full = crm
    sqls = ["owner_id IN (1, 3)", "org_id IN (2, 4, 6, 8)"]
    assert [conn.classify(where(s), conn.table("persons")) for s in sqls] == ["exact", "exact"]
    assert conn.classify(where("owner_id IN (" + ", ".join(map(str, range(21))) + ")"), conn.table("persons")) == "unsupported"
    got = sorted(read(conn, "persons", ["id"], filters=tuple(where(s) for s in sqls)).column(0).to_pylist())
    assert got == duckdb_keys(full, "id", " AND ".join(sqls)) and got
    assert sorted({p["owner_id"] for p in lists(emu)}) == ["1", "3"] and all("org_id" not in p for p in lists(emu))


def test_key_filter_on_org_id_fans_out(crm: tuple[Any, Any, pa.Table]) -> None:
    from connectors.base import KeyFilter

    conn, emu, full = crm
    req = ScanRequest(output_names=("id", "org_id"), table="persons", columns=("id", "org_id"),
                      key_filter=KeyFilter("org_id", pa.array([5, 7], pa.int64())))
    got = conn.scan(req).read_all()
    assert sorted(got.column(0).to_pylist()) == duckdb_keys(full, "id", "org_id IN (5, 7)")
    assert sorted(p["org_id"] for p in lists(emu)) == ["5", "7"]
    emu.clear_log()
    many = KeyFilter("org_id", pa.array(list(range(1, 30)), pa.int64()))  # over the fan-out cap: one plain scan
    conn.scan(ScanRequest(output_names=("id",), table="persons", columns=("id",), key_filter=many)).read_all()
    assert all("org_id" not in p for p in lists(emu))


def test_request_stats(crm: tuple[Any, Any, pa.Table]) -> None:
    conn, emu, _full = crm
    before = conn.request_stats()["requests"]
    read(conn, "persons", ["id"])
    assert conn.request_stats()["requests"] - before == len(lists(emu)) == 4
