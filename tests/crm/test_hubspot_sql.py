"""SQL over a HubSpot source through the Workspace API, against DuckDB over the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.crm.conformance import read

QUERIES = [
    "SELECT count(*) AS n FROM crm.contacts WHERE lifecyclestage = 'lead'",
    "SELECT id, email FROM crm.contacts WHERE email = 'erin.smith2@example.com' OR email LIKE '%wilson1%' ORDER BY id",
    "SELECT lifecyclestage, count(*) AS n FROM crm.contacts GROUP BY 1 ORDER BY 1 NULLS FIRST",
    "SELECT c.id, co.name FROM crm.contacts c JOIN crm.companies co ON c.associatedcompanyid = co.id "
    "WHERE c.hs_analytics_num_visits > 190 ORDER BY 1 LIMIT 5",
    "SELECT id, annualrevenue FROM crm.contacts WHERE hs_analytics_num_visits > 100 ORDER BY annualrevenue DESC NULLS FIRST, id LIMIT 3",
    "SELECT cc.company_id, count(*) AS n FROM crm.contact_companies cc JOIN crm.contacts c ON c.id = cc.contact_id "
    "WHERE c.city = 'Paris' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3",
    "SELECT id FROM crm.contacts WHERE id BETWEEN 1010 AND 1020 AND hs_email_optout IS NOT NULL ORDER BY id",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: Any) -> Iterator[tuple[Any, Any, Any]]:
    import duckdb

    from connectors.emulators.hubspot import HubSpotEmulator
    from federation.config.model import WorkspaceConfig
    from federation.workspace import Workspace
    from tests.crm.conftest import FAST_HUBSPOT, FAST_HUBSPOT_OPTIONS, source_config

    emu = HubSpotEmulator(contacts=400, **FAST_HUBSPOT).start()
    src = source_config("crm", "hubspot", type="hubspot", base_url=emu.url, token=emu.token, **FAST_HUBSPOT_OPTIONS)
    ws = Workspace(WorkspaceConfig(root=Path(tmp_path_factory.mktemp("ws")), sources={"crm": src}))
    oracle = duckdb.connect()
    oracle.execute("SET TimeZone = 'UTC'")
    for table in ("contacts", "companies", "contact_companies"):
        oracle.register(table, read(ws.connector("crm"), table))
    yield ws, emu, oracle
    oracle.close()
    ws.close()
    emu.stop()


@pytest.mark.parametrize("sql", QUERIES)
def test_query_matches_duckdb(env: tuple[Any, Any, Any], sql: str) -> None:
    ws, _, oracle = env
    got = ws.query(sql)
    want = oracle.execute(sql.replace("crm.", "")).fetchall()
    assert [tuple(r.values()) for r in got.to_pylist()] == want


def test_explain_shows_the_search_body_with_a_masked_token(env: tuple[Any, Any, Any]) -> None:
    ws, emu, _ = env
    doc = ws.explain("SELECT id FROM crm.contacts WHERE hs_analytics_num_visits > 100 LIMIT 3", analyze=True)
    (frag,) = doc["fragments"]
    req = frag["request"]
    assert req["method"] == "POST" and req["path"] == "/crm/v3/objects/contacts/search"
    assert req["body"]["filterGroups"] == [{"filters": [{"propertyName": "hs_analytics_num_visits", "operator": "GT", "value": "100"}]}]
    assert req["body"]["limit"] == 3 and req["headers"]["Authorization"] == "Bearer [secure]"
    assert frag["analyze"]["rows"] == 3 and emu.token not in str(doc)


def test_explain_analyze_counts_http_requests(env: tuple[Any, Any, Any]) -> None:
    ws, emu, _ = env
    emu.clear_log()
    doc = ws.explain("SELECT id FROM crm.contacts WHERE hs_analytics_num_visits > 100", analyze=True)
    http = doc["fragments"][0]["analyze"]["http"]
    assert http["requests"] >= 1
    # explain's own request-count estimate is one more search, made before the run
    searches = [r for r in emu.requests("POST") if "/search" in r.path]
    assert http["requests"] == len(searches) - 1
