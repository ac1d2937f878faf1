"""Pipedrive connector over its loopback emulator: conformance, parameter placement, paging."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors.base import ScanRequest
from tests.crm.conformance import CrmCase, CrmConformance, duckdb_keys, read, where
from tests.crm.conftest import source_config

TOKEN = "pd-test-token"


@pytest.fixture()
def pd_factory(tmp_path: Path) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """make(persons=60, emulator={...}, **options) -> (PipedriveConnector, started PipedriveEmulator)."""
    from connectors.crm.pipedrive import PipedriveConnector
    from connectors.emulators.pipedrive import PipedriveEmulator

    made: list[tuple[Any, Any]] = []

    def make(persons: int = 60, emulator: dict[str, Any] | None = None, **options: Any) -> tuple[Any, Any]:
        emu = PipedriveEmulator(token=TOKEN, persons=persons, **{"burst": 10_000, **(emulator or {})}).start()
        opts = {"type": "pipedrive", "base_url": emu.url, "token": TOKEN, "retry_budget": 5.0, **options}
        conn = PipedriveConnector(source_config("crm", "pipedrive", **opts), tmp_path)
        made.append((conn, emu))
        return conn, emu

    yield make
    for conn, emu in made:
        conn.close()
        emu.stop()


def _no_filters_calls(emu: Any) -> None:
    assert not emu.requests(path=r"/filters"), "the connector must never touch saved filters"
    assert not any("filter_id" in r.query for r in emu.requests()), "filter_id must never be sent"


class TestPipedriveConformance(CrmConformance):
    @pytest.fixture()
    def case(self, pd_factory: Any) -> CrmCase:
        return CrmCase(
            make=lambda rows, **opts: pd_factory(rows, page_size=opts.pop("page_size", 25), **opts),
            table="persons", key="id", page_size=25,
            expected_types={"id": pa.int64(), "name": pa.string(), "email": pa.string(), "emails": pa.list_(pa.string()),
                            "owner_id": pa.int64(), "org_id": pa.int64(), "update_time": pa.timestamp("us", tz="UTC"),
                            "customer_tier": pa.string(), "customer_tier_id": pa.int64(), "lifetime_value": pa.float64(),
                            "lifetime_value_currency": pa.string(), "birthday": pa.date32(),
                            "interests": pa.list_(pa.string()), "interests_ids": pa.list_(pa.int64()),
                            "label_ids": pa.list_(pa.int64())},
            predicates={
                "id = 7": "exact", "id IN (1, 5, 9, 400)": "exact", "owner_id = 2": "exact", "org_id = 3": "exact",
                "update_time >= TIMESTAMP '2024-06-01 00:00:00+00'": "exact",
                "update_time < TIMESTAMP '2024-06-01 00:00:00+00'": "exact",
                "update_time > TIMESTAMP '2024-06-01 00:00:00+00'": "inexact",
                "update_time <= TIMESTAMP '2024-06-01 00:00:00+00'": "inexact",
                "update_time >= TIMESTAMP '2024-06-01 00:00:00.250+00'": "inexact",
                "update_time BETWEEN TIMESTAMP '2024-03-01 00:00:00+00' AND TIMESTAMP '2024-06-01 00:00:00+00'": "inexact",
                "name = 'Ana Kim'": "unsupported", "owner_id > 1": "unsupported", "id > 5": "unsupported",
                "customer_tier = 'Gold'": "unsupported", "owner_id = 1 OR owner_id = 2": "unsupported",
            },
            drift_field=("emails", "email_addresses"), drift_column="email",
            count=lambda emu: len(emu.records["persons"]),
        )
