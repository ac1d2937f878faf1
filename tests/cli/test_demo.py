"""`cdp demo` end to end on a fresh copy of the demo workspace: builds the data, runs the segments."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pyarrow.dataset as ds

from cli import crm
from tests.cli.conftest import copy_demo_workspace, run


def test_demo_builds_data_and_runs_segments(tmp_path: Path) -> None:
    ws = copy_demo_workspace(tmp_path / "configs")
    p = run("demo", cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    data = ws / "data"
    con = sqlite3.connect(data / "shop.db")
    assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 2000
    assert con.execute("SELECT count(*) FROM orders").fetchone()[0] > 4000
    events = ds.dataset(data / "events", format="parquet", partitioning="hive")
    assert events.count_rows() >= 100_000
    assert (data / "support_tickets.csv").read_text().startswith("ticket_id,email,topic,status,opened_at\n")
    out = p.stdout
    for title in ("Engaged buyers in Germany", "Top 10 customers by lifetime value",
                  "Buyers who never showed up online", "Open support tickets by topic"):
        assert title in out
    assert "What each source received:" in out and "SQL: SELECT" in out and "file: " in out
    assert "\x1b[" not in out  # piped: plain text, no colours or progress
    if crm.available():
        assert "HTTP POST /crm/v3/objects/contacts/search" in out
        assert "Marketing-qualified leads in the CRM" in out
    assert "segment queries in" in out


def test_demo_data_is_deterministic(tmp_path: Path) -> None:
    from cli.demo_data import build

    a, b = tmp_path / "a", tmp_path / "b"
    build(a)
    build(b)

    def digest(root: Path) -> str:
        con = sqlite3.connect(root / "shop.db")
        rows = con.execute("SELECT * FROM customers ORDER BY id").fetchall()
        rows += con.execute("SELECT * FROM orders ORDER BY id").fetchall()
        table = ds.dataset(root / "events", format="parquet", partitioning="hive").to_table()
        return hashlib.sha256((repr(rows) + repr(table.to_pydict()) +
                               (root / "support_tickets.csv").read_text()).encode()).hexdigest()

    assert digest(a) == digest(b)
    assert build(a) == []  # nothing missing: nothing rebuilt


def test_demo_without_crm_and_quiet_when_piped(tmp_path: Path) -> None:
    copy_demo_workspace(tmp_path / "ws")
    p = run("--workspace", str(tmp_path / "ws"), "demo", "--no-crm", timeout=120)
    assert p.returncode == 0, p.stderr
    assert "HubSpot emulator" not in p.stdout
    assert p.stderr == ""
