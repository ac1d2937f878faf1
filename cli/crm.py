"""The demo's CRM: the HubSpot emulator as a subprocess, added as source ``crm``.

The source is declared in ``<workspace>/extras/crm.yaml`` and read with the
normal loader, with HUBSPOT_URL and HUBSPOT_TOKEN set to the emulator's address
and a demo token; nothing here is a real credential.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cli.demo_queries import Segment

if TYPE_CHECKING:
    from federation.workspace import Workspace

DEMO_TOKEN = "demo-hubspot-token"
MODULE = "connectors.emulators.hubspot"


@dataclass
class Emulator:
    url: str
    token: str
    process: subprocess.Popen[bytes]


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec(MODULE) is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def maybe_start(enabled: bool = True) -> Iterator[Emulator | None]:
    """Start the emulator when it is installed; yield None (no CRM part) when it is not or fails."""
    if not enabled or not available():
        yield None
        return
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", MODULE, "--port", str(port), "--token", DEMO_TOKEN],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield Emulator(f"http://127.0.0.1:{port}", DEMO_TOKEN, proc) if _wait_listening(port, proc) else None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def add_source(ws: Workspace, emu: Emulator) -> None:
    """Load ``extras/crm.yaml`` with the emulator's URL and token, and add it to ``ws``."""
    from connectors.registry import create
    from federation.config.load import load_workspace

    env = dict(os.environ, HUBSPOT_URL=emu.url, HUBSPOT_TOKEN=emu.token)
    extras = load_workspace(Path(ws.root) / "extras", env=env)
    for name, cfg in extras.sources.items():
        ws.add_connector(name, create(cfg, Path(ws.root)))


SEGMENTS = (
    Segment(
        "Marketing-qualified leads in the CRM",
        "pushed into HubSpot's search API as filterGroups; only matching contacts come back",
        """
SELECT lower(trim(email)) AS email, firstname, lastname, city, hs_analytics_num_visits AS visits
FROM crm.contacts
WHERE lifecyclestage = :stage AND city = :city
ORDER BY visits DESC NULLS LAST, email
LIMIT 10
""",
        ("crm",),
        {"stage": "marketingqualifiedlead", "city": "Berlin"},
    ),
)
