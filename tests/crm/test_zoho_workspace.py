"""Zoho and Pipedrive through the whole engine: workspace YAML, planner, explain, query."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.emulators.pipedrive import PipedriveEmulator
from connectors.emulators.zoho import ZohoEmulator
from federation import Workspace

YAML = """\
sources:
  zcrm: {type: zoho, base_url: "${ZOHO_URL}", token: "${ZOHO_TOKEN}", tables: [Contacts, Deals], page_size: 40}
  pd: {type: pipedrive, base_url: "${PD_URL}", token: "${PD_TOKEN}", page_size: 50}
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: Any) -> Iterator[tuple[Workspace, ZohoEmulator, PipedriveEmulator]]:
    root: Path = tmp_path_factory.mktemp("crm_ws")
    (root / "workspace.yaml").write_text(YAML)
    with ZohoEmulator(contacts=120) as z, PipedriveEmulator(persons=120, burst=10_000) as p:
        env = {"ZOHO_URL": z.url, "ZOHO_TOKEN": z.token, "PD_URL": p.url, "PD_TOKEN": p.token}
        w = Workspace.load(root, env=env)
        yield w, z, p  # type: ignore[misc]
        w.close()


def _duck(sql: str, **tables: Any) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, t in tables.items():
        con.register(name, t)
    return con.execute(sql).fetchall()


def test_zoho_filter_lands_in_coql_and_rows_match(ws: Any) -> None:
    w, z, _p = ws
    sql = "SELECT id, last_name, visits FROM zcrm.contacts WHERE visits > 20 AND last_name = 'smith' ORDER BY id"
    doc = w.explain(sql)
    frag = next(f for f in doc["fragments"] if f["source"] == "zcrm")
    assert "(Last_Name = 'smith' and Visits > 20)" in frag["request"]["body"]["select_query"]
    got = w.query(sql).to_pylist()
    full = w.query("SELECT id, last_name, visits FROM zcrm.contacts")
    want = _duck("SELECT id, last_name, visits FROM everything WHERE visits > 20 AND last_name = 'smith' ORDER BY id", everything=full)
    assert [tuple(r.values()) for r in got] == want and want  # 'Smith' rows were re-checked away


def test_zoho_join_on_lookup_ids(ws: Any) -> None:
    w, _z, _p = ws
    sql = ("SELECT d.deal_name, c.last_name FROM zcrm.deals d JOIN zcrm.contacts c ON d.contact_name_id = c.id "
           "WHERE d.amount > 40000 ORDER BY d.deal_name")
    got = [tuple(r.values()) for r in w.query(sql).to_pylist()]
    deals, contacts = w.query("SELECT * FROM zcrm.deals"), w.query("SELECT * FROM zcrm.contacts")
    want = _duck("SELECT d.deal_name, c.last_name FROM deals d JOIN contacts c ON d.contact_name_id = c.id "
                 "WHERE d.amount > 40000 ORDER BY d.deal_name", deals=deals, contacts=contacts)
    assert got == want and want


def test_pipedrive_only_fixed_parameters_are_sent(ws: Any) -> None:
    w, _z, p = ws
    p.clear_log()
    sql = "SELECT id, name, customer_tier FROM pd.persons WHERE owner_id = 2 AND customer_tier = 'Gold' ORDER BY id"
    got = [tuple(r.values()) for r in w.query(sql).to_pylist()]
    full = w.query("SELECT id, name, customer_tier, owner_id FROM pd.persons")
    want = _duck("SELECT id, name, customer_tier FROM everything WHERE owner_id = 2 AND customer_tier = 'Gold' ORDER BY id", everything=full)
    assert got == want and want
    sent = [r for r in p.requests("GET", r"^/api/v2/persons$")]
    assert sent[0].query["owner_id"] == ["2"] and "customer_tier" not in str(sent[0].query)
    assert not p.requests(path="/filters")
