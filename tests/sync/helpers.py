"""A loopback webhook receiver with scripted failures, and the sync test workspace."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.segments import data

SEGMENTS = """
everyone: {from: shop.customers}
de: {from: shop.customers, where: [{country: DE}]}
"""


def workspace(root: Path, audiences: str) -> Path:
    data.workspace(root, SEGMENTS)
    (root / "audiences.yaml").write_text(textwrap.dedent(audiences))
    return root


class Receiver:
    """POST bodies are recorded; ``script(n, body)`` may return (status, body, headers) for request n."""

    def __init__(self, script: Callable[[int, dict[str, Any]], tuple[int, Any, dict[str, str]] | None] | None = None) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []  # every request: headers + body + status
        self.accepted: list[dict[str, Any]] = []  # bodies answered 2xx
        self.lock = threading.Lock()
        self.gate: threading.Event | None = None  # when set up, request number `hold_at` waits on it
        self.hold_at = -1
        self.holding = threading.Event()
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"null")
                with recv.lock:
                    n = len(recv.requests)
                    entry = {"n": n, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                    recv.requests.append(entry)
                if n == recv.hold_at and recv.gate is not None:
                    recv.holding.set()
                    recv.gate.wait(30)
                answer = recv.script(n, body) if recv.script else None
                status, reply, headers = answer or (200, {"ok": True}, {})
                entry["status"] = status
                if 200 <= status < 300:
                    with recv.lock:
                        recv.accepted.append(body)
                raw = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client was killed mid-request
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def delivered(self, key: str) -> list[Any]:
        """Every key value accepted in an upsert batch, in order (duplicates kept)."""
        return [r[key] for b in self.accepted if b["op"] == "upsert" for r in b["records"]]
