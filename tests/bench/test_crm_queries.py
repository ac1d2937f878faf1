"""The bench's HubSpot queries give the pandas baseline's answer (bench/crm.py, bench/queries.py).

A small contacts file is generated as ``make bench`` would (missing → written),
served by the HubSpot emulator at HubSpot's real limits, and read both ways:
fedcdp through bench/workspace/sources.yaml, pandas by paging the list API.
The cross-source query joins a SQLite stand-in for bench.customers (the
PostgreSQL bench schema holds 1M rows and exists only where the bench ran).
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pandas")

from bench import crm  # noqa: E402
from bench.queries import QUERIES  # noqa: E402
from bench.run import PandasSources  # noqa: E402

CONTACTS = 3000
CUSTOMERS = 6000
BENCH_WORKSPACE = Path(crm.__file__).parent / "workspace"


def _query(name: str) -> Any:
    return next(q for q in QUERIES if q.name == name)


def _norm(v: Any) -> Any:
    import pandas as pd

    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return pd.Timestamp(v).tz_convert("UTC").isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return _norm(v.item())
    if isinstance(v, float):
        return round(v, 6)
    return v


def _rows_of_table(table: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(_norm(v) for v in r.values()) for r in table.to_pylist()), key=repr)


def _rows_of_frame(df: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(_norm(v) for v in r) for r in df.itertuples(index=False)), key=repr)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("crm") / "contacts.parquet"
    assert not path.exists()
    with crm.serving(path, CONTACTS, customers=CUSTOMERS) as emu:
        assert path.exists(), "serving() generates the contacts file when it is missing"
        yield emu


def test_generation_is_deterministic_and_overlaps_the_warehouse() -> None:
    a, b = crm.generate(300, seed=3), crm.generate(300, seed=3)
    assert a.equals(b)
    emails = [e for e in a.column("email").to_pylist() if e]
    assert len(set(emails)) == len(emails)
    shared = [e for e in emails if e.startswith("user") and e.endswith("@example.com")]
    assert 0.4 < len(shared) / len(emails) < 0.8


def test_crm_filter_matches_pandas_and_is_pushed(emulator: Any) -> None:
    from federation import Workspace

    q = _query("crm_attribute_filter")
    with Workspace.load(BENCH_WORKSPACE) as ws:  # BENCH_HUBSPOT_URL/TOKEN set by serving()
        got = ws.query(q.fedcdp)
        doc = ws.explain(q.fedcdp, analyze=True)
    src = PandasSources()
    want = q.pandas(src)
    assert got.num_rows >= 5
    assert _rows_of_table(got) == _rows_of_frame(want)
    (frag,) = doc["fragments"]
    filters = frag["request"]["body"]["filterGroups"][0]["filters"]
    assert {f["propertyName"] for f in filters} == {"country", "lifecyclestage", "hs_lead_status"}
    assert frag["analyze"]["rows"] == got.num_rows and frag["analyze"]["bytes"] > 0
    assert frag["analyze"]["http"]["requests"] >= 1
    assert src.http["requests"] == math.ceil(CONTACTS / 100) + src.http["throttled"]


def test_crm_join_with_warehouse_matches_pandas(emulator: Any, tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    from federation import Workspace
    from tests.conftest import write_workspace

    rng = np.random.default_rng(5)
    ids = np.arange(1, CUSTOMERS + 1)
    customers = pd.DataFrame({"id": ids, "email": [f"user{i}@example.com" for i in ids],
                              "country": rng.choice(["DE", "FR"], CUSTOMERS), "ltv": np.round(rng.uniform(0, 4000, CUSTOMERS), 2)})
    db = tmp_path / "wh.db"
    with sqlite3.connect(db) as con:
        customers.to_sql("customers", con, index=False)
    crm_yaml = (BENCH_WORKSPACE / "sources.yaml").read_text().split("sources:", 1)[1]
    crm_source = crm_yaml[crm_yaml.index("  crm:"):]
    write_workspace(tmp_path, f"sources:\n  wh:\n    type: sqlite\n    path: wh.db\n{crm_source}")

    class Sources(PandasSources):
        def customers(self):  # type: ignore[no-untyped-def]
            with sqlite3.connect(db) as con:
                return pd.read_sql("SELECT * FROM customers", con)

    q = _query("crm_mql_high_ltv")
    with Workspace.load(tmp_path) as ws:
        got = ws.query(q.fedcdp)
    want = q.pandas(Sources())
    assert got.num_rows >= 5
    assert _rows_of_table(got) == _rows_of_frame(want)
