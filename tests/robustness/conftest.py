"""Fixtures for the robustness tests: ``cdp`` as a subprocess, and the five CRM
emulators behind one workspace (fast retry settings, small pages)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

# source name -> (type, table, page option) ; small pages so every scan takes several requests
CRMS = {
    "hs": ("hubspot", "contacts", {"search_page_size": 20, "list_page_size": 20, "rate_limit": 10_000.0,
                                   "search_rate_limit": 10_000.0}),
    "sf": ("salesforce", "contact", {"batch_size": 200}),
    "dv": ("dynamics365", "contact", {"page_size": 20}),
    "zc": ("zoho", "contacts", {"page_size": 20}),
    "pd": ("pipedrive", "persons", {"page_size": 20}),
}


def cdp(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``cdp ARGS`` as a real process (exit codes and stderr as a shell sees them)."""
    full = {k: v for k, v in os.environ.items() if k != "CDP_WORKSPACE"}
    full.update(env or {})
    full["PYTHONPATH"] = str(REPO) + os.pathsep + full.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env=full, cwd=REPO, timeout=timeout)


def _emulator(name: str) -> Any:
    from connectors.emulators.dataverse import DataverseEmulator
    from connectors.emulators.hubspot import HubSpotEmulator
    from connectors.emulators.pipedrive import PipedriveEmulator
    from connectors.emulators.salesforce import SalesforceApp, SalesforceEmulator
    from connectors.emulators.zoho import ZohoEmulator

    return {
        "hs": lambda: HubSpotEmulator(contacts=60, search_per_second=10_000, burst_max=100_000),
        "sf": lambda: SalesforceEmulator(SalesforceApp(contacts=450)),
        "dv": lambda: DataverseEmulator(contacts=60),
        "zc": lambda: ZohoEmulator(contacts=60),
        "pd": lambda: PipedriveEmulator(persons=60, burst=10_000),
    }[name]()


@dataclass
class CrmWorkspace:
    root: Path
    env: dict[str, str]
    emulators: dict[str, Any]


def write_crm_workspace(root: Path, emulators: dict[str, Any], **options: Any) -> dict[str, str]:
    """sources.yaml over running emulators; returns the env its ${VARS} need."""
    lines, env = ["sources:"], {}
    for name, emu in emulators.items():
        type_, _table, opts = CRMS[name]
        token = getattr(emu, "token", None) or emu.app.token
        env[f"{name.upper()}_URL"], env[f"{name.upper()}_TOKEN"] = emu.url, token
        extra = "".join(f", {k}: {v}" for k, v in {**opts, **options}.items())
        lines.append(f"  {name}: {{type: {type_}, base_url: '${{{name.upper()}_URL}}', "
                     f"token: '${{{name.upper()}_TOKEN}}'{extra}}}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "sources.yaml").write_text("\n".join(lines) + "\n")
    return env


@pytest.fixture(scope="module")
def crm_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrmWorkspace]:
    """All five emulators; each source retries for at most 0.8 s, 0.3 s per request."""
    emus = {name: _emulator(name).start() for name in CRMS}
    root = tmp_path_factory.mktemp("crm_faults")
    env = write_crm_workspace(root, emus, timeout=0.3, retry_budget=0.8)
    try:
        yield CrmWorkspace(root, env, emus)
    finally:
        for e in emus.values():
            e.stop()


@pytest.fixture(autouse=True)
def _fresh_buckets() -> Iterator[None]:
    from connectors.crm.http import reset_buckets

    reset_buckets()
    yield
    reset_buckets()
