"""YAML segments run over SQLite (and Parquet events) and match a Python reference."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from federation import Workspace
from models.segments import get_segment
from tests.segments import data

AS_OF = data.AS_OF
D = dt.timedelta

SEGMENTS = """
de:
  key: customer_id
  from: shop.customers
  where: [{country: DE}]
rich:
  from: shop.customers
  where: [{ltv: {">=": 100, "<": 500}}]
listed:
  from: shop.customers
  where: [{country: [DE, FR]}, {ltv: {is_null: false}}]
no_country:
  from: shop.customers
  where: [{country: null}]
buyers3:
  from: shop.customers
  events: {from: shop.events, name: name}
  where: [{did: purchase, at_least: 3, within: 30d}]
at_most_1:
  from: shop.customers
  events: {from: shop.events, name: name}
  where: [{did: purchase, at_most: 1, within: 30d}]
may_1_2:
  from: shop.customers
  events: {from: shop.events, name: name}
  where: [{did: purchase, at_least: 1, at_most: 2, between: ["2026-05-01", "2026-06-01"]}]
no_login:
  from: shop.customers
  events: {from: shop.events, name: name}
  where: [{did_not: login, within: 14d}]
big_buyers:
  from: shop.customers
  events: {from: shop.events, name: name}
  where: [{did: purchase, at_least: 2, within: 60d, where: {amount: {">": 50}}}]
de_not_rich:
  from: shop.customers
  where: [{in_segment: de}, {not_in_segment: rich}]
fr_or_be_not_low:
  from: shop.customers
  where:
    - any: [{country: FR}, {country: BE}]
    - not: {ltv: {"<": 100}}
recent_signup:
  from: shop.customers
  where: [{signup: {after: -90d}}]
"""


def _reference(name: str) -> set[int]:
    custs, evs = data.customers(), data.events()
    by = {c["customer_id"]: c for c in custs}

    def ev(n: str, start: Any, end: Any, pred: Any = None) -> dict[int, int]:
        return data.count_events(evs, n, start, end, pred)

    def where(pred: Any) -> set[int]:
        return {k for k, c in by.items() if pred(c)}

    de = where(lambda c: c["country"] == "DE")
    rich = where(lambda c: c["ltv"] is not None and 100 <= c["ltv"] < 500)
    if name == "de":
        return de
    if name == "rich":
        return rich
    if name == "listed":
        return where(lambda c: c["country"] in ("DE", "FR") and c["ltv"] is not None)
    if name == "no_country":
        return where(lambda c: c["country"] is None)
    if name == "buyers3":
        n = ev("purchase", AS_OF - D(days=30), AS_OF)
        return {k for k in by if n.get(k, 0) >= 3}
    if name == "at_most_1":
        n = ev("purchase", AS_OF - D(days=30), AS_OF)
        return {k for k in by if n.get(k, 0) <= 1}
    if name == "may_1_2":
        n = ev("purchase", dt.datetime(2026, 5, 1), dt.datetime(2026, 6, 1))
        return {k for k in by if 1 <= n.get(k, 0) <= 2}
    if name == "no_login":
        n = ev("login", AS_OF - D(days=14), AS_OF)
        return {k for k in by if n.get(k, 0) == 0}
    if name == "big_buyers":
        n = ev("purchase", AS_OF - D(days=60), AS_OF, lambda e: e["amount"] is not None and e["amount"] > 50)
        return {k for k in by if n.get(k, 0) >= 2}
    if name == "de_not_rich":
        return de - rich
    if name == "fr_or_be_not_low":
        return where(lambda c: c["country"] in ("FR", "BE") and c["ltv"] is not None and not c["ltv"] < 100)
    if name == "recent_signup":
        start = (AS_OF - D(days=90)).strftime("%Y-%m-%dT%H:%M:%S")
        return where(lambda c: c["signup"] >= start)
    raise AssertionError(name)


NAMES = [line[:-1] for line in SEGMENTS.splitlines() if line and not line.startswith(" ")]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = data.workspace(tmp_path_factory.mktemp("seg"), SEGMENTS)
    with Workspace.load(root) as w:
        yield w


@pytest.mark.parametrize("name", NAMES)
def test_segment_matches_reference(ws: Workspace, name: str) -> None:
    seg = get_segment(ws, name, AS_OF)
    got = set(seg.run().column("customer_id").to_pylist())
    want = _reference(name)
    assert got == want
    assert seg.count() == len(want)
    assert len(want) > 0 or name == "no_country"  # the data exercises every condition


def test_event_counts_are_grouped_in_the_event_source(ws: Workspace) -> None:
    seg = get_segment(ws, "buyers3", AS_OF)
    plan = seg.explain()
    sql = plan["fragments"][0]["request"]["sql"]
    assert "GROUP BY" in sql and "HAVING COUNT(*) >= 3" in sql
    assert plan["arrow"]["operations"] == []


def test_as_of_makes_runs_reproducible(ws: Workspace) -> None:
    a = get_segment(ws, "buyers3", AS_OF).sql
    b = get_segment(ws, "buyers3", AS_OF.isoformat()).sql
    later = get_segment(ws, "buyers3", AS_OF + D(days=1)).sql
    assert a == b and a != later
    assert "'2026-05-31T12:00:00'" in a and "'2026-06-30T12:00:00'" in a


def test_relative_dates_default_to_now(ws: Workspace) -> None:
    seg = ws.segment("buyers3")
    assert abs((seg.as_of - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60


def test_cross_source_events_in_parquet(tmp_path: Path) -> None:
    yaml = SEGMENTS.replace("from: shop.events", "from: files.events")
    root = data.workspace(tmp_path, yaml, events_in="files")
    with Workspace.load(root) as w:
        for name in ("buyers3", "at_most_1", "no_login", "big_buyers", "may_1_2"):
            seg = get_segment(w, name, AS_OF)
            assert set(seg.run().column("customer_id").to_pylist()) == _reference(name), name
            assert "AS TIMESTAMP)" in seg.sql  # typed literals for a timestamp column
        plan = get_segment(w, "buyers3", AS_OF).explain()
        files = [f for f in plan["fragments"] if f["source"] == "files"][0]
        assert "purchase" in files["request"]["filter"]  # the event filter ran in the file scan
        assert set(files["pushed"]["columns"]) == {"customer_id", "name", "ts"}


def test_sql_segment_file_with_as_of(tmp_path: Path) -> None:
    root = data.workspace(tmp_path, SEGMENTS)
    (root / "segments").mkdir()
    (root / "segments" / "recent_buyers.sql").write_text(
        "SELECT DISTINCT customer_id FROM shop.events WHERE name = 'purchase' AND ts >= :as_of\n")
    (root / "extra.yaml").write_text(
        "segments:\n  de_recent:\n    from: shop.customers\n    where: [{country: DE}, {in_segment: recent_buyers}]\n")
    with Workspace.load(root) as w:
        seg = get_segment(w, "recent_buyers", "2026-06-01")
        assert seg.key == "customer_id"
        want = {e["customer_id"] for e in data.events() if e["name"] == "purchase"
                and e["ts"].strftime("%Y-%m-%dT%H:%M:%S") >= "2026-06-01 00:00:00"}
        assert set(seg.run().column("customer_id").to_pylist()) == want
        de = {c["customer_id"] for c in data.customers() if c["country"] == "DE"}
        both = set(get_segment(w, "de_recent", "2026-06-01").run().column("customer_id").to_pylist())
        assert both == de & want - {None}
