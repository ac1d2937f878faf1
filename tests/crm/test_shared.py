"""The shared CRM parts: HTTP client, predicate walking, wire types, emulator base."""

from __future__ import annotations

import datetime as dt
import time
from email.utils import format_datetime

import pyarrow as pa
import pytest
import sqlglot

from connectors.crm import http as crmhttp
from connectors.crm.predicates import atom, conjuncts, like_shape, to_dnf
from connectors.crm.types import WireTypeError, to_arrow
from connectors.emulators.base import EmulatorBase, Reply
from federation.errors import RateLimitedError, SourceError


class Echo(EmulatorBase):
    def route(self, req):  # type: ignore[no-untyped-def]
        if req.headers.get("authorization") != "Bearer sekret":
            return Reply(401, {"message": "bad token"})
        return Reply(200, {"path": req.path, "n": len(self.log)})


@pytest.fixture()
def echo():
    with Echo() as emu:
        yield emu


def client(emu: EmulatorBase, **kw) -> crmhttp.CrmHttp:  # type: ignore[no-untyped-def]
    kw.setdefault("retry_budget", 5.0)
    kw.setdefault("backoff_base", 0.01)
    return crmhttp.CrmHttp("crm", "echo", emu.url, headers=lambda: {"Authorization": "Bearer sekret"}, credential="sekret", **kw)


def test_retries_429_then_succeeds_and_counts(echo: Echo) -> None:
    echo.burst_429(2, retry_after=0)
    echo.fail_500(1)
    echo.truncate_next(1)
    http = client(echo)
    resp = http.request("GET", "/a", params={"q": "x@y.z"})
    assert resp.data["path"] == "/a"
    assert [r.status for r in echo.log] == [429, 429, 500, 200, 200]
    assert http.stats.requests == 5 and http.stats.retries == 4


def test_429_past_budget_names_source_and_request(echo: Echo) -> None:
    echo.burst_429(100, retry_after=0.2)
    http = client(echo, retry_budget=0.5)
    with pytest.raises(RateLimitedError) as ei:
        http.request("POST", "/crm/v3/objects/contacts/search", params={"email": "a@b.c"})
    msg = str(ei.value)
    assert "source 'crm'" in msg and "429 Too Many Requests for POST /crm/v3/objects/contacts/search" in msg
    assert "a@b.c" not in msg and "sekret" not in msg
    assert ei.value.exit_code == 3


def test_401_is_a_source_error_without_secret(echo: Echo) -> None:
    http = crmhttp.CrmHttp("crm", "echo", echo.url, headers=lambda: {"Authorization": "Bearer wrong"}, credential="wrong")
    with pytest.raises(SourceError, match="401 Unauthorized for GET /x") as ei:
        http.request("GET", "/x")
    assert "wrong" not in str(ei.value) and "bad token" not in str(ei.value)
    assert "[secure]" in repr(http)


def test_truncated_json_past_budget(echo: Echo) -> None:
    echo.truncate_next(1000)
    with pytest.raises(SourceError, match="truncated or invalid JSON for GET /x"):
        client(echo, retry_budget=0.2).request("GET", "/x")


def test_retry_after_forms() -> None:
    assert crmhttp.parse_retry_after("3") == 3.0
    now = time.time()
    date = format_datetime(dt.datetime.fromtimestamp(now + 10, dt.timezone.utc), usegmt=True)
    assert 8.0 <= crmhttp.parse_retry_after(date, now=now) <= 10.5  # type: ignore[operator]
    assert crmhttp.parse_retry_after("garbage") is None


def test_shared_bucket_is_per_account() -> None:
    crmhttp.reset_buckets()
    a = crmhttp.shared_bucket("v", "http://h/", "tok", "default", 5)
    assert crmhttp.shared_bucket("v", "http://h", "tok", "default", 99) is a
    assert crmhttp.shared_bucket("v", "http://h", "other", "default", 5) is not a
    assert all("tok" not in str(k) for k in crmhttp._BUCKETS)


def test_token_bucket_paces() -> None:
    b = crmhttp.TokenBucket(20, burst=1)
    t0 = time.monotonic()
    for _ in range(5):
        b.acquire()
    assert time.monotonic() - t0 >= 0.15


def _e(sql: str):  # type: ignore[no-untyped-def]
    return sqlglot.parse_one(f"SELECT * FROM t WHERE {sql}").args["where"].this


def test_atoms() -> None:
    assert atom(_e("5 < x")) == atom(_e("x > 5"))
    c = atom(_e("x NOT IN ('a', 'b')"))
    assert c is not None and c.op == "not_in" and c.values == ("a", "b")
    assert atom(_e("x IS NOT NULL")).op == "not_null"  # type: ignore[union-attr]
    assert atom(_e("x BETWEEN -1 AND 2.5")).values == (-1, 2.5)  # type: ignore[union-attr]
    assert atom(_e("d >= DATE '2024-01-02'")).value == dt.date(2024, 1, 2)  # type: ignore[union-attr]
    ts = atom(_e("d < CAST('2024-01-02 03:04:05' AS TIMESTAMP)")).value  # type: ignore[union-attr]
    assert ts == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert atom(_e("x = y")) is None and atom(_e("x = NULL")) is None and atom(_e("lower(x) = 'a'")) is None
    assert atom(_e("x LIKE '%ab%'")).op == "like"  # type: ignore[union-attr]
    assert atom(_e("x NOT LIKE '%ab%'")).op == "not_like"  # type: ignore[union-attr]
    assert atom(_e("x NOT ILIKE 'a'")).op == "not_like"  # type: ignore[union-attr]
    assert atom(_e("x NOT BETWEEN 1 AND 2")).op == "not_between"  # type: ignore[union-attr]


def test_dnf_and_caps() -> None:
    e = _e("(a = 1 OR b = 2) AND (c = 3 OR d = 4)")
    groups = to_dnf(e, max_groups=5)
    assert groups is not None and len(groups) == 4 and all(len(g) == 2 for g in groups)
    assert to_dnf(e, max_groups=3) is None
    assert to_dnf(e, max_groups=5, max_total=7) is None
    assert len(conjuncts(_e("a = 1 AND (b = 2 AND c = 3)"))) == 3


def test_like_shape() -> None:
    assert like_shape("%ab%") == ("contains", "ab")
    assert like_shape("ab%") == ("prefix", "ab")
    assert like_shape("%ab") == ("suffix", "ab")
    assert like_shape("a%b") is None and like_shape("a_b") is None and like_shape("%") is None


def test_wire_types() -> None:
    ts = to_arrow(["2024-01-17T19:55:04.281Z", "1572480000000", None, "2013-05-20T20:49:32.000+0000"], pa.timestamp("us", "UTC"))
    assert ts.type == pa.timestamp("us", "UTC") and ts[1].as_py() == dt.datetime(2019, 10, 31, tzinfo=dt.timezone.utc)
    assert to_arrow(["1572480000000", "2024-01-02", None], pa.date32()).to_pylist() == [dt.date(2019, 10, 31), dt.date(2024, 1, 2), None]
    assert to_arrow(["17", " 1.5 ", "", None], pa.float64()).to_pylist() == [17.0, 1.5, None, None]
    assert to_arrow(["17", "18.0"], pa.int64()).to_pylist() == [17, 18]
    assert to_arrow(["true", "FALSE", None], pa.bool_()).to_pylist() == [True, False, None]
    assert to_arrow(["a;b", "", None], pa.list_(pa.string())).to_pylist() == [["a", "b"], [], None]
    with pytest.raises(WireTypeError, match="column 'n': 1 value"):
        to_arrow(["1", "secret-value"], pa.float64(), column="n")


def test_timeouts_are_retried_then_reported(echo: Echo) -> None:
    echo.slow(0.3)
    with pytest.raises(SourceError, match=r"timed out for GET /slow \d+ times") as ei:
        client(echo, timeout=0.05, retry_budget=0.2).request("GET", "/slow")
    assert ei.value.exit_code == 3 and ei.value.retriable


def test_unreachable_host_gives_up_quickly() -> None:
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    http = crmhttp.CrmHttp("crm", "echo", f"http://127.0.0.1:{port}", retry_budget=60.0, backoff_base=0.01)
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"connection failed \(ConnectError\) for GET /x 3 times"):
        http.request("GET", "/x")
    assert time.monotonic() - t0 < 5
    http.close()


def test_extra_headers_and_refresh_on_401(echo: Echo) -> None:
    token = {"value": "stale"}

    def renew() -> None:
        token["value"] = "sekret"

    http = crmhttp.CrmHttp("crm", "echo", echo.url, headers=lambda: {"Authorization": f"Bearer {token['value']}"}, refresh=renew)
    assert http.request("GET", "/r", headers={"Prefer": "odata.maxpagesize=10"}).data["path"] == "/r"
    assert [r.status for r in echo.log] == [401, 200]
    token["value"] = "wrong-again"
    http2 = crmhttp.CrmHttp("crm", "echo", echo.url, headers=lambda: {"Authorization": "Bearer nope"}, refresh=lambda: None)
    with pytest.raises(SourceError, match="401 Unauthorized for GET /r"):
        http2.request("GET", "/r")
    http.close()
    http2.close()
