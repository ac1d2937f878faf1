"""Fixtures for the CRM connector tests: loopback emulators and connectors over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from federation.config.model import SourceConfig
from federation.errors import Location

# Fast settings: the real limits are tested on purpose, elsewhere.
FAST_HUBSPOT = {"search_per_second": 10_000, "burst_max": 100_000}
FAST_HUBSPOT_OPTIONS = {"rate_limit": 10_000.0, "search_rate_limit": 10_000.0, "retry_budget": 5.0}


def source_config(name: str, type_: str, secret_keys: tuple[str, ...] = ("token",), **options: Any) -> SourceConfig:
    """A SourceConfig as the loader would build it (secrets already interpolated)."""
    secrets = frozenset(str(options[k]) for k in secret_keys if options.get(k))
    return SourceConfig(name, type_, options, Location("sources.yaml", 1, 1), frozenset(k for k in secret_keys if k in options), secrets)


@pytest.fixture(autouse=True)
def _fresh_rate_buckets() -> Iterator[None]:
    from connectors.crm.http import reset_buckets

    reset_buckets()
    yield
    reset_buckets()


@pytest.fixture()
def hubspot_factory(tmp_path: Path) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """make(contacts=50, emulator={...}, **options) -> (HubSpotConnector, started HubSpotEmulator)."""
    from connectors.crm.hubspot import HubSpotConnector
    from connectors.emulators.hubspot import HubSpotEmulator

    made: list[tuple[Any, Any]] = []

    def make(contacts: int = 50, emulator: dict[str, Any] | None = None, **options: Any) -> tuple[Any, Any]:
        emu = HubSpotEmulator(contacts=contacts, **{**FAST_HUBSPOT, **(emulator or {})}).start()
        opts = {"type": "hubspot", "base_url": emu.url, "token": emu.token, **FAST_HUBSPOT_OPTIONS, **options}
        conn = HubSpotConnector(source_config("crm", "hubspot", **opts), tmp_path)
        made.append((conn, emu))
        return conn, emu

    yield make
    for conn, emu in made:
        conn.close()
        emu.stop()
