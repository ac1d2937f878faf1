"""The shared CRM conformance suite, run against the Dataverse connector and emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.crm.conformance import CrmCase, CrmConformance
from tests.crm.conftest import source_config


@pytest.fixture()
def dataverse_factory(tmp_path: Path) -> Iterator[Any]:
    from connectors.crm.dynamics365 import DataverseConnector
    from connectors.emulators.dataverse import DataverseEmulator

    made: list[tuple[Any, Any]] = []

    def make(rows: int, **options: Any) -> tuple[Any, Any]:
        emu = DataverseEmulator(contacts=rows).start()
        opts = {"type": "dynamics365", "base_url": emu.url, "token": emu.token, "page_size": 25,
                "tables": ["contact"], "retry_budget": 5.0, **options}
        conn = DataverseConnector(source_config("crm", "dynamics365", **opts), tmp_path)
        made.append((conn, emu))
        return conn, emu

    yield make
    for conn, emu in made:
        conn.close()
        emu.stop()


class TestDataverseConformance(CrmConformance):
    @pytest.fixture()
    def case(self, dataverse_factory: Any) -> CrmCase:
        return CrmCase(
            make=dataverse_factory, table="contact", key="contactid", page_size=25,
            expected_types={"contactid": pa.string(), "emailaddress1": pa.string(), "numberofchildren": pa.int32(),
                            "sample_visits": pa.int64(), "creditlimit": pa.float64(), "donotemail": pa.bool_(),
                            "createdon": pa.timestamp("us", tz="UTC"), "gendercode": pa.int32(),
                            "sample_outdooractivities": pa.list_(pa.int32()), "_parentcustomerid_value": pa.string()},
            predicates={
                "numberofchildren > 1": "exact",
                "numberofchildren NOT IN (0, 2)": "exact",
                "creditlimit BETWEEN 100 AND 30000 OR donotemail": "exact",
                "createdon >= TIMESTAMPTZ '2024-06-01 00:00:00+00'": "exact",
                "emailaddress1 = 'ada3@example.com'": "inexact",
                "emailaddress1 LIKE 'a%'": "inexact",
                "emailaddress1 ILIKE '%EXAMPLE.COM'": "exact",
                "emailaddress1 <> 'x'": "unsupported",
                "lower(emailaddress1) = 'a'": "unsupported",
            },
            drift_field=("emailaddress1", "emailaddress9"), drift_column="emailaddress1",
            count=lambda emu: len(emu.rows["contact"]),
        )
