"""CSV and Parquet destinations: whole audience in full mode, changes with _op otherwise, atomic files."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from federation import Workspace
from federation.sync.runner import run_sync
from tests.segments import data
from tests.sync.helpers import workspace

AUD = """
audiences:
  out:
    segment: de
    key: customer_id
    fields: [customer_id, email, ltv]
    destination: {{type: {kind}, path: exports/de.{kind}}}
"""


def _read(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".csv":
        with open(path, newline="") as f:
            return [dict(r) for r in csv.DictReader(f)]
    return [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in pq.read_table(path).to_pylist()]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_file_modes(tmp_path: Path, kind: str) -> None:
    root = workspace(tmp_path, AUD.format(kind=kind))
    target = root / "exports" / f"de.{kind}"
    de = [c for c in data.customers() if c["country"] == "DE"]
    with Workspace.load(root) as ws:
        log = run_sync(ws, "out", mode="full")
    rows = _read(target)
    assert [r["customer_id"] for r in rows] == [str(c["customer_id"]) for c in de] and "_op" not in rows[0]
    assert log.counts["delivered"] == len(de)
    con = sqlite3.connect(root / "data" / "shop.db")
    con.execute(f"UPDATE customers SET ltv = 1 WHERE customer_id = {de[0]['customer_id']}")
    con.execute(f"DELETE FROM customers WHERE customer_id = {de[1]['customer_id']}")
    con.commit()
    con.close()
    with Workspace.load(root) as ws:
        run_sync(ws, "out", mode="mirror")
    rows = _read(target)
    assert [(r["customer_id"], r["_op"]) for r in rows] == [(str(de[0]["customer_id"]), "upsert"),
                                                           (str(de[1]["customer_id"]), "delete")]
    assert float(rows[0]["ltv"]) == 1.0 and rows[1]["email"] == ""
    with Workspace.load(root) as ws:
        log = run_sync(ws, "out")
    assert _read(target) == [] and log.batches == 0  # nothing changed: an empty change file
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp files left behind
