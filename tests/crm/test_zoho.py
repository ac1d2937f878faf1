"""Zoho CRM connector over its loopback emulator: conformance, COQL placement, paging, auth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors.base import ScanRequest
from tests.crm.conformance import CrmCase, CrmConformance, duckdb_keys, read, where
from tests.crm.conftest import source_config

TOKEN = "zoho-test-token"


@pytest.fixture()
def zoho_factory(tmp_path: Path) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """make(contacts=60, emulator={...}, **options) -> (ZohoConnector, started ZohoEmulator)."""
    from connectors.crm.zoho import ZohoConnector
    from connectors.emulators.zoho import ZohoEmulator

    made: list[tuple[Any, Any]] = []

    def make(contacts: int = 60, emulator: dict[str, Any] | None = None, **options: Any) -> tuple[Any, Any]:
        emu = ZohoEmulator(token=TOKEN, contacts=contacts, **(emulator or {})).start()
        opts = {"type": "zoho", "base_url": emu.url, "token": TOKEN, "tables": ["Contacts", "Deals"],
                "retry_budget": 5.0, **options}
        keys = tuple(k for k in ("token", "client_secret", "refresh_token") if k in opts)
        conn = ZohoConnector(source_config("crm", "zoho", keys, **opts), tmp_path)
        made.append((conn, emu))
        return conn, emu

    yield make
    for conn, emu in made:
        conn.close()
        emu.stop()


class TestZohoConformance(CrmConformance):
    @pytest.fixture()
    def case(self, zoho_factory: Any) -> CrmCase:
        return CrmCase(
            make=lambda rows, **opts: zoho_factory(rows, page_size=opts.pop("page_size", 25), **opts),
            table="contacts", key="id", page_size=25,
            expected_types={"id": pa.string(), "email": pa.string(), "visits": pa.int64(), "score": pa.float64(),
                            "annual_spend": pa.float64(), "email_opt_out": pa.bool_(), "date_of_birth": pa.date32(),
                            "created_time": pa.timestamp("us", tz="UTC"), "interests": pa.list_(pa.string()),
                            "account_name_id": pa.string(), "account_name": pa.string(), "owner_id": pa.string()},
            predicates={
                "visits > 10": "exact", "visits != 10": "exact", "last_name = 'smith'": "inexact",
                "email LIKE '%example.com'": "inexact", "last_name <> 'Smith'": "unsupported",
                "date_of_birth < DATE '1980-01-01'": "exact", "email_opt_out": "exact", "NOT email_opt_out": "exact",
                "created_time >= TIMESTAMP '2024-06-01 00:00:00+00'": "exact", "score BETWEEN 10 AND 50": "exact",
                "visits NOT IN (1, 2, 3)": "exact", "account_name_id IS NULL": "exact", "email IS NOT NULL": "exact",
                "lower(email) = 'a'": "unsupported", "description = 'x'": "unsupported",
                "visits > 40 OR score < 0": "exact", "NOT (visits > 5 AND score > 10)": "exact",
            },
            drift_field=("Email", "E_Mail"), drift_column="email",
            count=lambda emu: len(emu.records["Contacts"]),
        )
