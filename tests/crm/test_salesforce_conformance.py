"""The shared CRM conformance suite, run against the Salesforce connector and emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.crm.conformance import CrmCase, CrmConformance
from tests.crm.conftest import source_config


@pytest.fixture()
def salesforce_factory(tmp_path: Path) -> Iterator[Any]:
    from connectors.crm.salesforce import SalesforceConnector
    from connectors.emulators.salesforce import SalesforceApp, SalesforceEmulator

    made: list[tuple[Any, Any]] = []

    def make(rows: int, **options: Any) -> tuple[Any, Any]:
        emu = SalesforceEmulator(SalesforceApp(contacts=rows)).start()
        opts = {"type": "salesforce", "base_url": emu.url, "token": emu.app.token, "batch_size": 200,
                "tables": ["Contact"], "retry_budget": 5.0, **options}
        conn = SalesforceConnector(source_config("crm", "salesforce", **opts), tmp_path)
        made.append((conn, emu))
        return conn, emu

    yield make
    for conn, emu in made:
        conn.close()
        emu.stop()


class TestSalesforceConformance(CrmConformance):
    @pytest.fixture()
    def case(self, salesforce_factory: Any) -> CrmCase:
        return CrmCase(
            make=salesforce_factory, table="contact", key="id", page_size=200,
            expected_types={"id": pa.string(), "email": pa.string(), "visits__c": pa.int64(), "score__c": pa.float64(),
                            "birthdate": pa.date32(), "createddate": pa.timestamp("us", tz="UTC"),
                            "hasoptedoutofemail": pa.bool_(), "interests__c": pa.list_(pa.string())},
            predicates={
                "visits__c > 10": "exact",
                "visits__c <> 5 OR score__c IS NULL": "exact",
                "NOT hasoptedoutofemail": "exact",
                "birthdate < DATE '1980-01-01'": "exact",
                "email = 'ada.1@example.com'": "inexact",
                "email LIKE '%@example.com'": "inexact",
                "email ILIKE 'ADA%'": "exact",
                "email <> 'x'": "unsupported",
                "lower(email) = 'a'": "unsupported",
            },
            drift_field=("Email", "Email_Address__c"), drift_column="email",
            count=lambda emu: len(emu.app.records["Contact"]),
        )
