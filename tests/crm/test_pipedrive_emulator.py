"""The Pipedrive emulator's protocol rules (CRM-PROTOCOLS 5), checked over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.emulators.pipedrive import PipedriveEmulator
from connectors.emulators.pipedrive_data import field_key, field_metadata

H = {"x-api-token": "pd-test-token"}


@pytest.fixture()
def emu() -> Iterator[PipedriveEmulator]:
    with PipedriveEmulator(persons=120) as e:
        yield e  # type: ignore[misc]


def get(emu: PipedriveEmulator, path: str, **params: Any) -> httpx.Response:
    return httpx.get(emu.url + path, params=params, headers=H)


def test_envelope_cursor_and_default_limit(emu: PipedriveEmulator) -> None:
    first = get(emu, "/api/v2/persons").json()
    assert first["success"] is True and len(first["data"]) == 100 and first["additional_data"]["next_cursor"]
    rest = get(emu, "/api/v2/persons", cursor=first["additional_data"]["next_cursor"]).json()
    assert len(rest["data"]) == 20 and rest["additional_data"]["next_cursor"] is None
    assert {p["id"] for p in first["data"] + rest["data"]} == set(range(1, 121))


@pytest.mark.parametrize(("params", "message"), [
    ({"limit": 501}, "Invalid limit"),
    ({"sort_by": "name"}, "Invalid sort"),
    ({"sort_direction": "up"}, "Invalid sort"),
    ({"ids": ",".join(map(str, range(101)))}, "a maximum of 100 ids"),
    ({"cursor": "garbage!"}, "Invalid cursor"),
    ({"updated_since": "yesterday"}, ""),
    ({"custom_fields": ",".join("k" * 40 + str(i) for i in range(16))}, "Too many custom fields"),
])
def test_parameter_validation(emu: PipedriveEmulator, params: dict[str, Any], message: str) -> None:
    r = get(emu, "/api/v2/persons", **params)
    assert r.status_code == 400 and r.json()["success"] is False and message in r.json()["error"]


def test_updated_since_is_inclusive_and_until_exclusive(emu: PipedriveEmulator) -> None:
    stamp = emu.records["persons"][0]["update_time"]
    since = {p["id"] for p in get(emu, "/api/v2/persons", updated_since=stamp, limit=500).json()["data"]}
    until = {p["id"] for p in get(emu, "/api/v2/persons", updated_until=stamp, limit=500).json()["data"]}
    assert 1 in since and 1 not in until and since | until == set(range(1, 121)) and not since & until


def test_sorting_and_custom_field_projection(emu: PipedriveEmulator) -> None:
    rows = get(emu, "/api/v2/persons", sort_by="update_time", sort_direction="desc", limit=5,
               custom_fields=field_key("persons", "Birthday")).json()["data"]
    times = [r["update_time"] for r in rows]
    assert times == sorted(times, reverse=True)
    assert all(list(r["custom_fields"]) == [field_key("persons", "Birthday")] for r in rows)


def test_filter_id_overrides_fixed_parameters(emu: PipedriveEmulator) -> None:
    owner_field = next(f["id"] for f in field_metadata("persons") if f["key"] == "owner_id")
    body = {"name": "tmp", "type": "people", "conditions": {"glue": "and", "conditions": [
        {"glue": "and", "conditions": [{"object": "person", "field_id": owner_field, "operator": "=", "value": 1}]},
        {"glue": "or", "conditions": []}]}}
    created = httpx.post(emu.url + "/v1/filters", json=body, headers=H)
    assert created.status_code == 201
    fid = created.json()["data"]["id"]
    rows = get(emu, "/api/v2/persons", filter_id=fid, owner_id=2, limit=500).json()["data"]
    assert rows and {r["owner_id"] for r in rows} == {1}
    assert httpx.delete(f"{emu.url}/v1/filters/{fid}", headers=H).json()["success"] is True


@pytest.mark.parametrize(("conditions", "message"), [
    ({"glue": "or", "conditions": []}, "first level"),
    ({"glue": "and", "conditions": [{"glue": "or", "conditions": []}, {"glue": "and", "conditions": []}]}, "glued 'and' then 'or'"),
    ({"glue": "and", "conditions": [{"glue": "and", "conditions": [{"field_id": 1, "operator": "="}] * 17},
                                    {"glue": "or", "conditions": []}]}, "16 conditions"),
    ({"glue": "and", "conditions": [{"glue": "and", "conditions": [{"field_id": 1, "operator": "~"}]},
                                    {"glue": "or", "conditions": []}]}, "supported operator"),
])
def test_filter_validation(emu: PipedriveEmulator, conditions: dict[str, Any], message: str) -> None:
    r = httpx.post(emu.url + "/v1/filters", json={"name": "x", "type": "people", "conditions": conditions}, headers=H)
    assert r.status_code == 400 and message in r.json()["error"]


def test_rate_limit_headers_burst_and_budget() -> None:
    with PipedriveEmulator(persons=5, burst=2, daily_tokens=25) as emu:
        ok = get(emu, "/api/v2/persons")
        assert ok.headers["x-ratelimit-limit"] == "2" and ok.headers["x-ratelimit-remaining"] == "1"
        get(emu, "/api/v2/persons")
        burst = get(emu, "/api/v2/persons")
        assert burst.status_code == 429 and burst.json()["error"] == "Rate limit has been exceeded"
        assert "retry-after" not in burst.headers and int(burst.headers["x-ratelimit-reset"]) >= 1
        emu.burst = type(emu.burst)(100, 2.0)
        spent = get(emu, "/api/v2/persons")  # 3rd list: 30 > 25 tokens
        assert spent.status_code == 429 and "daily token budget" in spent.json()["error_info"]
        assert emu.tokens_used == 20


def test_auth_and_unknown_paths(emu: PipedriveEmulator) -> None:
    r = httpx.get(emu.url + "/api/v2/persons", headers={"x-api-token": "nope"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized access"
    assert httpx.get(emu.url + "/api/v2/persons", params={"api_token": "pd-test-token"}).status_code == 200
    assert get(emu, "/api/v2/leads").status_code == 404


def test_fields_metadata_pages(emu: PipedriveEmulator) -> None:
    page = get(emu, "/v1/personFields", start=0, limit=5).json()
    assert len(page["data"]) == 5 and page["additional_data"]["pagination"]["more_items_in_collection"] is True
    everything = get(emu, "/v1/personFields", limit=500).json()["data"]
    custom = [f for f in everything if f["edit_flag"]]
    assert all(len(f["key"]) == 40 for f in custom) and {f["name"] for f in custom} >= {"Customer Tier", "Lifetime Value"}


def test_module_entry_point_serves() -> None:
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "connectors.emulators.pipedrive", "--port", str(port)], stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v2/deals", headers=H)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert r.json()["data"][0]["title"] == "Deal 001"
    finally:
        proc.terminate()
        proc.wait(5)
        if proc.stderr:
            proc.stderr.close()


def test_search_rules_and_own_window(emu: PipedriveEmulator) -> None:
    assert "at least 2 characters" in get(emu, "/api/v2/persons/search", term="a").json()["error"]
    email = next(p["emails"][0]["value"] for p in emu.records["persons"] if p["emails"])
    exact = get(emu, "/api/v2/persons/search", term=email.upper(), exact_match="true", fields="email").json()
    assert [i["item"]["type"] for i in exact["data"]["items"]] == ["person"]
    codes = [get(emu, "/api/v2/persons/search", term="mail.test").status_code for _ in range(10)]
    assert codes.count(429) == 2 and get(emu, "/api/v2/persons").status_code == 200  # list requests are not in that window
