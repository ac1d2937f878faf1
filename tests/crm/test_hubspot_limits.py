"""HubSpot rate limits: one shared budget per account, Retry-After forms, the real 5/s search limit."""

from __future__ import annotations

import datetime as dt
import threading
import time
from email.utils import format_datetime
from typing import Any

import pytest

from federation.errors import RateLimitedError
from tests.crm.conformance import read, where


def test_readers_of_one_account_share_one_bucket(hubspot_factory: Any, tmp_path: Any) -> None:
    from connectors.crm.hubspot import HubSpotConnector
    from tests.crm.conftest import source_config

    conn, emu = hubspot_factory(30, rate_limit=20.0, search_rate_limit=20.0)
    twin = HubSpotConnector(source_config("crm2", "hubspot", type="hubspot", base_url=emu.url + "/", token=emu.token, rate_limit=999.0), tmp_path)
    other = HubSpotConnector(source_config("crm3", "hubspot", type="hubspot", base_url=emu.url, token="another-token"), tmp_path)
    try:
        assert conn.http.bucket("search") is twin.http.bucket("search")
        assert conn.http.bucket("default") is twin.http.bucket("default")
        assert conn.http.bucket("search") is not other.http.bucket("search")
        assert conn.http.bucket("search").rate == 20.0  # the first reader's rate is the account's
    finally:
        twin.close()
        other.close()


def test_shared_budget_paces_concurrent_readers(hubspot_factory: Any) -> None:
    conn, emu = hubspot_factory(30, search_rate_limit=20.0)
    conn.tables()
    emu.clear_log()

    def hammer() -> None:
        for _ in range(10):
            conn.http.request("POST", "/crm/v3/objects/contacts/search", json={"limit": 1}, lane="search")

    t0 = time.monotonic()
    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 20 searches at 20/s with a burst of 1: about one second, whatever the thread count
    assert time.monotonic() - t0 >= 0.9
    assert len(emu.requests("POST", r"/search$")) == 20


def test_real_search_limit_is_respected(hubspot_factory: Any) -> None:
    conn, emu = hubspot_factory(300, emulator={"search_per_second": 5}, search_rate_limit=5.0, search_page_size=40)
    conn.tables()
    emu.clear_log()
    got = read(conn, "contacts", ["id"], filters=(where("hs_analytics_num_visits >= 0"),))
    searches = emu.requests("POST", r"/search$")
    assert got.num_rows > 200 and len(searches) >= 6
    # the client paces itself; an occasional 429 at a window edge is retried, never surfaced
    assert sum(r.status == 429 for r in searches) <= 1


def test_search_429_body_has_no_rate_limit_headers(hubspot_factory: Any) -> None:
    import httpx

    _, emu = hubspot_factory(5, emulator={"search_per_second": 1})
    headers = {"Authorization": f"Bearer {emu.token}"}
    with httpx.Client(base_url=emu.url, headers=headers) as c:
        first = c.post("/crm/v3/objects/contacts/search", json={})
        second = c.post("/crm/v3/objects/contacts/search", json={})
        listing = c.get("/crm/v3/objects/contacts")
    assert first.status_code == 200 and second.status_code == 429
    body = second.json()
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "SECONDLY" and body["status"] == "error"
    assert not any(k.lower().startswith("x-hubspot-ratelimit") for k in second.headers)
    assert listing.headers["X-HubSpot-RateLimit-Max"] == "100000"
    assert int(listing.headers["X-HubSpot-RateLimit-Remaining"]) < 100000


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_forms_are_honoured(hubspot_factory: Any, form: str) -> None:
    conn, emu = hubspot_factory(20)
    conn.tables()
    when = format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2), usegmt=True)
    emu.burst_429(1, retry_after="1" if form == "seconds" else when)
    t0 = time.monotonic()
    assert read(conn, "contacts", ["id"]).num_rows == len(emu.rows("contacts"))
    waited = time.monotonic() - t0
    assert waited >= 0.9  # HTTP-dates have one-second resolution: 1 to 2 s
    assert waited < 4


def test_retry_after_beyond_budget_fails_fast(hubspot_factory: Any) -> None:
    conn, emu = hubspot_factory(20, retry_budget=1.0)
    conn.tables()
    emu.burst_429(1, retry_after="30")
    t0 = time.monotonic()
    with pytest.raises(RateLimitedError, match=r"429 Too Many Requests for GET /crm/v3/objects/contacts 1 time \(retry budget 1 s"):
        read(conn, "contacts", ["id"])
    assert time.monotonic() - t0 < 1.0
