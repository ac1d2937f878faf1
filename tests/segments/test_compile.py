"""Segment YAML → SQL: literals not text, problems with file:line, cycles, dates, placement."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest

from federation import ConfigError, UsageError, Workspace
from models.segment_dates import DateError, resolve_date, window_start
from models.segments import get_segment, list_segments
from tests.segments import data

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 31, 15, 30, tzinfo=UTC)


def _ws(tmp_path: Path, segments: str) -> Workspace:
    return Workspace.load(data.workspace(tmp_path, segments))


def test_hostile_values_are_literals(tmp_path: Path) -> None:
    evil = "x' OR '1'='1"
    ws = _ws(tmp_path, f"""
        evil:
          from: shop.customers
          where: [{{country: "{evil}"}}, {{email: {{like: "%'; DROP TABLE customers; --"}}}}]
        """)
    seg = get_segment(ws, "evil")
    assert "'x'' OR ''1''=''1'" in seg.sql  # quoted by sqlglot's literal generation
    assert seg.run().num_rows == 0
    assert ws.query("SELECT count(*) AS n FROM shop.customers").column("n")[0].as_py() == 150


def test_every_problem_is_reported_with_its_place(tmp_path: Path) -> None:
    ws = _ws(tmp_path, """
        bad:
          from: shop.customers
          colour: red
          where:
            - {did: purchase, at_least: -1, within: 3x}
            - {in_segment: de}
            - {country: {foo: 1}}
            - {did: purchase, did_not: login}
            - {any: []}
        de:
          from: shop.customers
          where: [{country: DE}]
        """)
    with pytest.raises(ConfigError) as e:
        get_segment(ws, "bad")
    text = e.value.render()
    assert "segments.yaml:4:" in text and "unknown key 'colour'" in text
    assert "'at_least' takes a whole number >= 0" in text
    assert "'3x' is not a duration" in text
    assert "unknown operator 'foo'" in text
    assert "use either 'did' or 'did_not'" in text
    assert "'any' takes a non-empty list" in text
    assert len(e.value.problems) == 6


def test_membership_cycles_and_unknown_segments(tmp_path: Path) -> None:
    ws = _ws(tmp_path, """
        a: {from: shop.customers, where: [{in_segment: b}]}
        b: {from: shop.customers, where: [{not_in_segment: a}]}
        c: {from: shop.customers, where: [{in_segment: dee}]}
        de: {from: shop.customers, where: [{country: DE}]}
        """)
    with pytest.raises(ConfigError, match="cycle: a -> b -> a"):
        get_segment(ws, "a")
    with pytest.raises(ConfigError, match="no segment named 'dee'. Did you mean 'de'"):
        get_segment(ws, "c")
    with pytest.raises(UsageError, match="no segment named 'dd'"):
        ws.segment("dd")
    assert [r["name"] for r in list_segments(ws)] == ["a", "b", "c", "de"]


@pytest.mark.parametrize("text,want", [
    ("now", NOW),
    ("today", dt.datetime(2026, 3, 31, tzinfo=UTC)),
    ("yesterday", dt.datetime(2026, 3, 30, tzinfo=UTC)),
    ("-30d", NOW - dt.timedelta(days=30)),
    ("-12h", NOW - dt.timedelta(hours=12)),
    ("+2w", NOW + dt.timedelta(weeks=2)),
    ("today-7d", dt.datetime(2026, 3, 24, tzinfo=UTC)),
    ("-1M", dt.datetime(2026, 2, 28, 15, 30, tzinfo=UTC)),  # 31 Mar - 1 month clamps to 28 Feb
    ("-1y", dt.datetime(2025, 3, 31, 15, 30, tzinfo=UTC)),
    ("2026-01-15", dt.datetime(2026, 1, 15, tzinfo=UTC)),
    ("2026-01-15T08:00:00+02:00", dt.datetime(2026, 1, 15, 6, tzinfo=UTC)),
])
def test_dates(text: str, want: dt.datetime) -> None:
    assert resolve_date(text, NOW) == want


def test_bad_dates_and_durations() -> None:
    with pytest.raises(DateError, match="is not a date"):
        resolve_date("last tuesday", NOW)
    with pytest.raises(DateError, match="is not a duration"):
        window_start("a week", NOW)
    assert window_start(7, NOW) == NOW - dt.timedelta(days=7)


def test_as_of_must_be_a_date(tmp_path: Path) -> None:
    ws = _ws(tmp_path, "de: {from: shop.customers, where: [{country: DE}]}")
    with pytest.raises(UsageError, match="--as-of: 'soon' is not a date"):
        get_segment(ws, "de", "soon")


def test_event_grouping_is_pushed_into_postgresql(tmp_path: Path, pg_uri: str, pg_schema: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import adbc_driver_postgresql.dbapi as pg

    evs = data.events()
    with pg.connect(pg_uri) as con, con.cursor() as cur:
        cur.execute(f"CREATE TABLE {pg_schema}.events (customer_id bigint, name text, ts timestamp, amount float8)")
        cur.adbc_ingest("events", _events_table(evs), mode="append", db_schema_name=pg_schema)
        con.commit()
    monkeypatch.setenv("WH_URI", pg_uri)
    root = data.workspace(tmp_path, """
        buyers:
          from: shop.customers
          events: {from: wh.events, name: name}
          where: [{did: purchase, at_least: 3, within: 30d, where: {amount: {">": 10}}}]
        """, extra=f"""\
          wh: {{type: postgresql, uri: "${{WH_URI}}", db_schema: {pg_schema}}}
        """)
    with Workspace.load(root) as ws:
        seg = get_segment(ws, "buyers", data.AS_OF)
        plan = seg.explain(analyze=True)
        wh = [f for f in plan["fragments"] if f["source"] == "wh"][0]
        sql = wh["request"]["sql"]
        assert "GROUP BY" in sql and "HAVING COUNT(*) >= 3" in sql and "'purchase'" in sql
        assert wh["pushed"]["aggregate"] is True and wh["pushed"]["columns"] == ["customer_id"]
        n = data.count_events(evs, "purchase", data.AS_OF - dt.timedelta(days=30), data.AS_OF,
                              lambda e: e["amount"] is not None and e["amount"] > 10)
        want = {k for k, v in n.items() if v >= 3}
        assert wh["analyze"]["rows"] == len(want)  # only the qualifying keys crossed the wire
        assert set(seg.run().column("customer_id").to_pylist()) == {k for k in want if k <= 150}


def _events_table(evs: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    return pa.table({
        "customer_id": pa.array([e["customer_id"] for e in evs], pa.int64()),
        "name": pa.array([e["name"] for e in evs], pa.string()),
        "ts": pa.array([e["ts"] for e in evs], pa.timestamp("us")),
        "amount": pa.array([e["amount"] for e in evs], pa.float64()),
    })


def test_segment_sql_is_documented() -> None:
    import models.segments as m

    for word in ("did_not", "at_least", "at_most", "within", "between", "in_segment", "not_in_segment", "--as-of"):
        assert word in textwrap.dedent(m.__doc__ or ""), word
