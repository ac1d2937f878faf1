"""Shared base of the loopback CRM emulators (tests, demos; never production).

An emulator is a threaded ``http.server`` on 127.0.0.1 (port 0 = any free port)
running in a background thread. A subclass declares routes and answers
``Request`` objects with ``Reply`` objects; the base adds what every test needs:

- ``start()`` / ``stop()`` / ``url`` (also a context manager);
- a request log (``log``: method, path, query, body, status), ``clear_log()``,
  ``requests(method=None, path=None)`` to filter it;
- fault switches, consumed by the next requests in arrival order:
  ``burst_429(n, retry_after=None)`` (Retry-After as seconds or an HTTP-date
  string), ``fail_500(n)``, ``slow(seconds)`` (every request, until ``slow(0)``),
  ``truncate_next(n)`` (a cut JSON body with a matching Content-Length),
  ``rename_field(old, new)`` (every JSON object key ``old`` becomes ``new`` in
  replies, as if the vendor renamed a field), ``clear_faults()``;
- ``WindowLimiter``: a sliding-window request counter for vendor rate limits.

Subclasses override ``rate_limited_reply`` / ``server_error_reply`` to send the
vendor's error bodies, and ``route`` (or fill ``routes``) to serve the API.

Example::

    class Echo(EmulatorBase):
        def route(self, req):
            return Reply(200, {"path": req.path})

    with Echo() as emu:
        httpx.get(emu.url + "/x")
        assert emu.log[0].path == "/x"
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    body: Any  # parsed JSON, raw text when not JSON, or None
    headers: dict[str, str]  # lower-case names

    def arg(self, name: str, default: str | None = None) -> str | None:
        vals = self.query.get(name)
        return vals[-1] if vals else default


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, bytes, or None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


Handler = Callable[..., Reply]


class WindowLimiter:
    """At most ``limit`` hits per rolling ``seconds`` window (thread-safe)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    def hit(self) -> tuple[bool, int, float]:
        """Record one hit if allowed: (allowed, remaining, seconds until a slot frees)."""
        with self._lock:
            now = time.monotonic()
            while self._hits and now - self._hits[0] >= self.seconds:
                self._hits.popleft()
            if len(self._hits) >= self.limit:
                return False, 0, self.seconds - (now - self._hits[0])
            self._hits.append(now)
            return True, self.limit - len(self._hits), 0.0


class EmulatorBase:
    """Base of every emulator; see the module docstring."""

    def __init__(self, *, seed: int = 0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.seed, self.host, self.port = seed, host, port
        self.rng = random.Random(seed)
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # (method, compiled path regex, handler(req, **groups)) tried in order
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.clear_faults()

    # -- lifecycle -------------------------------------------------------
    def start(self) -> EmulatorBase:
        emu = self

        class _H(_Handler):
            emulator = emu

        self._server = _Server((self.host, self.port), _H)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> EmulatorBase:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request log -----------------------------------------------------
    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def requests(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """Logged requests, optionally only one method and/or paths matching a regex."""
        with self._lock:
            out = list(self.log)
        return [r for r in out if (method is None or r.method == method) and (path is None or re.search(path, r.path))]

    # -- faults ----------------------------------------------------------
    def clear_faults(self) -> None:
        self._429: list[str | float | None] = []
        self._500 = 0
        self._slow = 0.0
        self._truncate = 0
        self.renames: dict[str, str] = {}

    def burst_429(self, n: int, retry_after: str | float | None = None) -> None:
        with self._lock:
            self._429.extend([retry_after] * n)

    def fail_500(self, n: int) -> None:
        with self._lock:
            self._500 += n

    def slow(self, seconds: float) -> None:
        self._slow = seconds

    def truncate_next(self, n: int = 1) -> None:
        with self._lock:
            self._truncate += n

    def rename_field(self, old: str, new: str) -> None:
        self.renames[old] = new

    # -- vendor hooks ----------------------------------------------------
    def rate_limited_reply(self, retry_after: str | float | None) -> Reply:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return Reply(429, {"status": "error", "message": "rate limited (injected)"}, headers)

    def server_error_reply(self) -> Reply:
        return Reply(500, {"status": "error", "message": "internal error (injected)"})

    def route(self, req: Request) -> Reply:
        """Dispatch through ``routes``; 404 when nothing matches."""
        known_path = False
        for method, pattern, handler in self.routes:
            m = pattern.fullmatch(req.path)
            if m:
                known_path = True
                if method == req.method:
                    return handler(req, **m.groupdict())
        return Reply(405 if known_path else 404, {"status": "error", "message": f"no route for {req.method} {req.path}"})

    # -- internals -------------------------------------------------------
    def _injected(self) -> tuple[Reply | None, bool]:
        with self._lock:
            if self._429:
                return self.rate_limited_reply(self._429.pop(0)), False
            if self._500:
                self._500 -= 1
                return self.server_error_reply(), False
            cut = self._truncate > 0
            if cut:
                self._truncate -= 1
            return None, cut

    def _serve(self, req: Request) -> tuple[Reply, bool]:
        if self._slow:
            time.sleep(self._slow)
        reply, cut = self._injected()
        if reply is None:
            try:
                reply = self.route(req)
            except Exception as e:  # an emulator bug must show up as a 500, not a hang
                reply = Reply(500, {"status": "error", "message": f"emulator error: {type(e).__name__}: {e}"})
        with self._lock:
            self.log.append(LoggedRequest(req.method, req.path, req.query, req.body, reply.status))
        return reply, cut

    def _rename(self, obj: Any) -> Any:
        if not self.renames:
            return obj
        if isinstance(obj, dict):
            return {self.renames.get(k, k): self._rename(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._rename(v) for v in obj]
        return obj


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that gave up (timeout tests): not an emulator failure
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    emulator: EmulatorBase
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid 40 ms ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True), body, headers)
        reply, cut = self.emulator._serve(req)
        if isinstance(reply.body, bytes):
            data = reply.body
        elif reply.body is None:
            data = b""
        else:
            data = json.dumps(self.emulator._rename(reply.body), separators=(",", ":")).encode()
        if cut and len(data) > 1:
            data = data[: len(data) // 2]
        self.send_response(reply.status)
        if data:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def serve_until_killed(emulator: EmulatorBase) -> None:
    """Run ``emulator`` in the foreground until SIGINT/SIGTERM (``python -m`` entry points)."""
    import signal
    import sys

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emulator.start()
    print(f"{type(emulator).__name__} listening on {emulator.url}", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
