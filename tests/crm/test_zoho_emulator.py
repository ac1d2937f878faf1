"""The Zoho emulator's protocol rules (CRM-PROTOCOLS 4), checked over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.emulators.coql_parser import CoqlError, parse
from connectors.emulators.zoho import ZohoEmulator

AUTH = {"Authorization": "Zoho-oauthtoken zoho-test-token"}


@pytest.fixture()
def emu() -> Iterator[ZohoEmulator]:
    with ZohoEmulator(contacts=450) as e:
        yield e  # type: ignore[misc]


def q(emu: ZohoEmulator, text: str) -> httpx.Response:
    return httpx.post(emu.url + "/crm/v7/coql", json={"select_query": text}, headers=AUTH)


def test_unbracketed_chain_is_a_syntax_error_with_position(emu: ZohoEmulator) -> None:
    r = q(emu, "select Last_Name from Contacts where Visits > 1 and Score > 2 and Email is not null")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "SYNTAX_ERROR" and body["status"] == "error"
    assert body["details"] == {"line": 1, "column": 63, "near": "and"}
    ok = q(emu, "select Last_Name from Contacts where (Visits > 1 and Score > 2) and Email is not null")
    assert ok.status_code == 200


def test_where_is_required_unless_switched_off(emu: ZohoEmulator) -> None:
    r = q(emu, "select Last_Name from Contacts")
    assert r.status_code == 400 and "WHERE clause is missing" in r.json()["message"]
    emu.require_where = False
    assert q(emu, "select Last_Name from Contacts").json()["info"]["count"] == 200  # LIMIT defaults to 200


def test_limits_on_criteria_in_lists_limit_and_offset(emu: ZohoEmulator) -> None:
    chain = "Visits > 0"
    for k in range(25):
        chain = f"({chain} and Visits != {k})"
    assert q(emu, f"select id from Contacts where {chain}").json()["code"] == "LIMIT_EXCEEDED"
    in_list = ", ".join(str(i) for i in range(101))
    assert "at most 100 values" in q(emu, f"select id from Contacts where Visits in ({in_list})").json()["message"]
    assert q(emu, "select id from Contacts where id is not null limit 2001").json()["code"] == "LIMIT_EXCEEDED"
    emu.max_rows = 300
    assert "only 300 records" in q(emu, "select id from Contacts where id is not null limit 200 offset 200").json()["message"]


def test_offset_forms_agree_and_more_records(emu: ZohoEmulator) -> None:
    a = q(emu, "select id from Contacts where id is not null limit 5, 3").json()
    b = q(emu, "select id from Contacts where id is not null limit 3 offset 5").json()
    assert a == b and a["info"] == {"count": 3, "more_records": True}
    last = q(emu, "select id from Contacts where id is not null limit 10 offset 445").json()
    assert last["info"] == {"count": 5, "more_records": False}


def test_empty_result_is_204(emu: ZohoEmulator) -> None:
    r = q(emu, "select id from Contacts where Visits > 100000")
    assert r.status_code == 204 and r.content == b""


def test_group_by_aggregates(emu: ZohoEmulator) -> None:
    rows = q(emu, "select Lead_Source, COUNT(id), SUM(Visits), MAX(Score) from Contacts where id is not null group by Lead_Source").json()["data"]
    recs = emu.records["Contacts"]
    for r in rows:
        mine = [c for c in recs if c["Lead_Source"] == r["Lead_Source"]]
        assert r["COUNT(id)"] == len(mine)
        assert r["SUM(Visits)"] == pytest.approx(sum(c["Visits"] or 0 for c in mine))
        assert r["MAX(Score)"] == max(c["Score"] for c in mine if c["Score"] is not None)


def test_case_insensitive_text_and_lookup_ids(emu: ZohoEmulator) -> None:
    rows = q(emu, "select Last_Name, Account_Name from Contacts where Last_Name = 'SMITH' limit 2000").json()["data"]
    assert {r["Last_Name"] for r in rows} == {"Smith", "smith"}
    acct = rows[0]["Account_Name"] or {"id": "0"}
    same = q(emu, f"select id from Contacts where Account_Name.id = '{acct['id']}'").json()
    assert same == q(emu, f"select id from Contacts where Account_Name = '{acct['id']}'").json()


def test_records_list_pages_then_page_token(emu: ZohoEmulator) -> None:
    url = emu.url + "/crm/v7/Contacts"
    assert httpx.get(url, headers=AUTH).json()["code"] == "REQUIRED_PARAM_MISSING"
    assert httpx.get(url, params={"fields": "Email", "per_page": 201}, headers=AUTH).status_code == 400
    over = httpx.get(url, params={"fields": "Email", "page": 11, "per_page": 200}, headers=AUTH).json()
    assert over["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    seen, token = [], None
    while True:
        params: dict[str, Any] = {"fields": "Email,Owner", "per_page": 200} | ({"page_token": token} if token else {})
        doc = httpx.get(url, params=params, headers=AUTH).json()
        seen += [r["id"] for r in doc["data"]]
        assert doc["data"][0]["$currency_symbol"] == "$"
        token = doc["info"]["next_page_token"]
        if not doc["info"]["more_records"]:
            break
    assert len(seen) == 450 == len(set(seen))


def test_credits_and_auth(emu: ZohoEmulator) -> None:
    emu.credits_used = 0
    q(emu, "select id from Contacts where id is not null limit 200")
    q(emu, "select id from Contacts where id is not null limit 1000")
    q(emu, "select id from Contacts where id is not null limit 2000")
    assert emu.credits_used == 6
    emu.credits = 7
    r = q(emu, "select id from Contacts where id is not null limit 300")
    assert r.status_code == 429 and r.json()["code"] == "LIMIT_REACHED"
    bad = httpx.post(emu.url + "/crm/v7/coql", json={"select_query": "x"}, headers={"Authorization": "Zoho-oauthtoken nope"})
    assert bad.status_code == 401 and bad.json()["code"] == "INVALID_TOKEN"


def test_upsert_caps_and_writes(emu: ZohoEmulator) -> None:
    url = emu.url + "/crm/v7/Contacts/upsert"
    too_many = httpx.post(url, json={"data": [{"Last_Name": "x"}] * 101}, headers=AUTH).json()
    assert too_many["code"] == "LIMIT_EXCEEDED"
    email = emu.records["Contacts"][3]["Email"] or "new@example.com"
    out = httpx.post(url, json={"data": [{"Last_Name": "Upd", "Email": email}, {"Last_Name": "New", "Email": "n@x.io"}],
                                "duplicate_check_fields": ["Email"]}, headers=AUTH).json()["data"]
    assert [o["action"] for o in out] == (["update", "insert"] if emu.records["Contacts"][3]["Email"] else ["insert", "insert"])
    assert len(emu.records["Contacts"]) >= 451


def test_parser_rejects_duplicates_and_accepts_keywords_in_any_case() -> None:
    parsed = parse("SELECT Last_Name FROM Contacts WHERE Last_Name LIKE 'O''B%' ORDER BY Visits DESC, id LIMIT 4")
    assert parsed.where is not None and parsed.where.values == ("O'B%",) and parsed.order_by == [("Visits", True), ("id", False)]
    with pytest.raises(CoqlError, match="duplicate field in ORDER BY"):
        parse("select id from Contacts where id is not null order by Visits, visits")


def test_concurrency_429(emu: ZohoEmulator) -> None:
    import threading

    emu.concurrency = 1
    emu.latency = 0.2
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(q(emu, "select id from Contacts where id is not null").status_code))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 429 in codes and 200 in codes


def test_module_entry_point_serves() -> None:
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "connectors.emulators.zoho", "--port", str(port)], stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/crm/v7/settings/fields", params={"module": "Deals"}, headers=AUTH)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert any(f["api_name"] == "Closing_Date" for f in r.json()["fields"])
    finally:
        proc.terminate()
        proc.wait(5)
        if proc.stderr:
            proc.stderr.close()
