"""The HTTP layer every CRM connector shares: one client per source.

``CrmHttp`` wraps an ``httpx.Client`` with what every vendor API needs:

- an auth header builder (called per request, so OAuth refreshers can plug in);
- a client-side token bucket per *vendor account*: buckets live in a module-level
  registry keyed by (vendor, base_url, credential fingerprint, lane), so every
  reader and writer in the process draws on one budget. The fingerprint is a hash;
  the token itself is never stored as a key or printed (it renders as ``[secure]``);
- retries with exponential backoff and full jitter on 429, 5xx, timeouts,
  connection errors and truncated/invalid JSON, honouring ``Retry-After`` in both
  the delta-seconds and HTTP-date forms; a total ``retry_budget`` (seconds) after
  which ``RateLimitedError`` (429s) or ``SourceError`` (the rest) is raised;
- request counting (requests, bytes, seconds, retries) for ``explain --analyze``;
- per-request extra headers (``request(..., headers=...)``) and an optional
  ``refresh`` callback, called once on a 401 before the request is retried
  (OAuth token renewal).

Errors name the source and the request as ``METHOD /path``; never the token, the
query string (it may carry customer data) or the response body. A connector may
pass ``describe_error`` to extract a safe vendor *code* (e.g. ``VALIDATION_ERROR``)
from an error body.

Example::

    http = CrmHttp("crm", "hubspot", "http://127.0.0.1:8711",
                   headers=lambda: {"Authorization": f"Bearer {token}"},
                   credential=token, rates={"default": 10.0, "search": 5.0})
    doc = http.request("POST", "/crm/v3/objects/contacts/search", json=body, lane="search").data
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from federation.errors import RateLimitedError, SourceError

MASK = "[secure]"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REFUSED_ATTEMPTS = 3


def fingerprint(secret: str | None) -> str:
    """A short, non-reversible id for a credential (for registry keys and logs)."""
    if not secret:
        return "anonymous"
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def mask(text: str, secrets: Collection[str]) -> str:
    """``text`` with every secret value replaced by ``[secure]``."""
    for s in secrets:
        if s:
            text = text.replace(s, MASK)
    return text


class TokenBucket:
    """A blocking token bucket: ``rate`` tokens per second, at most ``burst`` saved.

    ``hold(seconds)`` makes every caller wait (used after a 429 with Retry-After,
    so the whole account backs off, not only the thread that got the 429)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self._tokens = self.burst
        self._last = time.monotonic()
        self._hold_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, n: float = 1.0) -> float:
        """Take ``n`` tokens, sleeping as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                delay = max(0.0, self._hold_until - now)
                if delay == 0.0:
                    if self._tokens >= n:
                        self._tokens -= n
                        return waited
                    delay = (n - self._tokens) / self.rate
            time.sleep(delay)
            waited += delay

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._hold_until = max(self._hold_until, time.monotonic() + seconds)


_BUCKETS: dict[tuple[str, str, str, str], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def shared_bucket(vendor: str, base_url: str, credential: str | None, lane: str, rate: float, burst: float = 1.0) -> TokenBucket:
    """The process-wide bucket for one account and lane (created on first use).

    The first caller's ``rate`` wins; later callers with the same key share it.
    ``burst`` defaults to 1: evenly spaced requests stay under the sliding
    windows vendors count in, where a saved-up burst would not."""
    key = (vendor, base_url.rstrip("/"), fingerprint(credential), lane)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = TokenBucket(rate, burst)
        return bucket


def reset_buckets() -> None:
    """Forget every shared bucket (tests)."""
    with _BUCKETS_LOCK:
        _BUCKETS.clear()


@dataclass
class RequestStats:
    """What crossed the wire; thread-safe counters for ``explain --analyze``."""

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, nbytes: int, seconds: float, retry: bool) -> None:
        with self._lock:
            self.requests += 1
            self.retries += int(retry)
            self.bytes += nbytes
            self.seconds += seconds

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "retries": self.retries, "bytes": self.bytes, "seconds": round(self.seconds, 6)}


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    data: Any  # parsed JSON, or None for an empty body


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class _Retry(Exception):
    """One failed attempt that may be retried."""

    def __init__(self, reason: str, status: int | None = None, wait: float | None = None, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.status, self.wait, self.refused = reason, status, wait, refused


class _Unauthorized(Exception):
    def __init__(self, error: SourceError) -> None:
        super().__init__(str(error))
        self.error = error


class CrmHttp:
    """One source's HTTP client. Thread-safe; share it between readers of a source."""

    def __init__(
        self,
        source: str,
        vendor: str,
        base_url: str,
        *,
        headers: Callable[[], Mapping[str, str]] | None = None,
        credential: str | None = None,
        rates: Mapping[str, float | None] | None = None,
        timeout: float = 30.0,
        retry_budget: float = 60.0,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        describe_error: Callable[[int, Any], str | None] | None = None,
        refresh: Callable[[], None] | None = None,
        transport: Any = None,
    ) -> None:
        import httpx

        self.source, self.vendor = source, vendor
        self.base_url = base_url.rstrip("/")
        self._headers = headers or (lambda: {})
        self._credential = credential
        self._rates = dict(rates or {})
        self.retry_budget = float(retry_budget)
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self._describe = describe_error
        self._refresh = refresh  # called once on a 401 (renew an OAuth token), then the request is retried
        self.stats = RequestStats()
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"CrmHttp(source={self.source!r}, base_url={self.base_url!r}, token={MASK!r})"

    def bucket(self, lane: str = "default") -> TokenBucket | None:
        rate = self._rates.get(lane, self._rates.get("default"))
        if not rate:
            return None
        return shared_bucket(self.vendor, self.base_url, self._credential, lane, rate)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        lane: str = "default",
        ok: Collection[int] = (200, 201, 204, 207),
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one logical request (retrying as needed); return its parsed JSON.

        ``path`` is relative to the base URL, without a query string (pass
        ``params``). ``headers`` are added to the auth headers for this request.
        Statuses in ``ok`` return; others raise ``SourceError``."""
        what = f"{method} {path}"
        start = time.monotonic()
        attempts = 0
        refreshed = False
        while True:
            attempts += 1
            try:
                return self._attempt(method, path, params, json, lane, ok, retry=attempts > 1, extra=headers)
            except _Unauthorized as u:
                if self._refresh is None or refreshed:
                    raise u.error from None
                refreshed = True
                self._refresh()
            except _Retry as r:
                wait = r.wait if r.wait is not None else self._backoff(attempts)
                spent = time.monotonic() - start
                # nothing listening is rarely transient: give up after a few tries, not the whole budget
                if spent + wait > self.retry_budget or (r.refused and attempts >= MAX_REFUSED_ATTEMPTS):
                    raise self._give_up(what, r, attempts, spent) from None
                if r.status == 429 and r.wait is not None and (b := self.bucket(lane)) is not None:
                    b.hold(wait)  # the whole account backs off, not only this thread
                time.sleep(wait)

    def _backoff(self, attempt: int) -> float:
        # full jitter: spreads retries of concurrent readers apart
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    def _attempt(
        self, method: str, path: str, params: Any, body: Any, lane: str, ok: Collection[int], retry: bool, extra: Mapping[str, str] | None = None
    ) -> Response:
        import httpx

        if (b := self.bucket(lane)) is not None:
            b.acquire()
        t0 = time.perf_counter()
        try:
            resp = self._client.request(method, path, params=params, json=body, headers={**self._headers(), **(extra or {})})
            content = resp.content
        except httpx.TimeoutException:
            self.stats.add(nbytes=0, seconds=time.perf_counter() - t0, retry=retry)
            raise _Retry("timed out") from None
        except httpx.TransportError as e:
            self.stats.add(nbytes=0, seconds=time.perf_counter() - t0, retry=retry)
            raise _Retry(f"connection failed ({type(e).__name__})", refused=isinstance(e, httpx.ConnectError)) from None
        self.stats.add(nbytes=len(content), seconds=time.perf_counter() - t0, retry=retry)
        status = resp.status_code
        if status in RETRY_STATUSES:
            wait = parse_retry_after(resp.headers.get("retry-after"))
            raise _Retry(f"answered {status} {resp.reason_phrase}", status, wait)
        data = None
        if content.strip():
            try:
                data = jsonlib.loads(content)
            except ValueError:
                if status in ok:
                    raise _Retry("returned truncated or invalid JSON") from None
        if status not in ok:
            error = self._status_error(method, path, status, resp.reason_phrase, data)
            if status == 401:
                raise _Unauthorized(error)
            raise error
        return Response(status, resp.headers, data)

    def _status_error(self, method: str, path: str, status: int, reason: str, data: Any) -> SourceError:
        code = self._describe(status, data) if self._describe else None
        msg = f"answered {status} {reason} for {method} {path}" + (f" ({code})" if code else "")
        hint = None
        if status in (401, 403):
            hint = "Check the token configured for this source (it is never printed)."
        elif status == 404:
            hint = "Check base_url and the object/table names of this source."
        return SourceError(self.source, msg, hint=hint)

    def _give_up(self, what: str, r: _Retry, attempts: int, spent: float) -> SourceError:
        tail = f"{attempts} time{'s' if attempts != 1 else ''} (retry budget {self.retry_budget:g} s, {spent:.1f} s spent)"
        if r.status == 429:
            return RateLimitedError(
                self.source,
                f"answered 429 Too Many Requests for {what} {tail}",
                hint="Lower `rate_limit` for this source, raise `retry_budget`, or try later.",
            )
        return SourceError(self.source, f"{r.reason} for {what} {tail}", retriable=True, hint="Try again later; check that base_url is reachable.")

    def close(self) -> None:
        self._client.close()
