"""Segments and audiences over the unified model: entity names, the events relation, PII tags."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from federation import Workspace
from models.audiences import get_audience
from models.segments import get_segment

YAML = """\
sources:
  shop: {type: sqlite, path: data/shop.db}
  files: {type: parquet, path: data/events/, table: events}
entities:
  customers:
    from: shop.customers
    key: email
    fields: {email: "lower(trim(email))", country: country, ltv: ltv, phone: phone, consent: consent}
    pii: [email, phone]
  events:
    from: files.events
    fields: {customer_email: "lower(email)", event: name, ts: ts, amount: amount}
    relations:
      customer: {entity: customers, on: {customer_email: email}}
segments:
  de_buyers:
    where: [{country: DE}, {did: purchase, at_least: 2, within: 30d, where: {amount: {">": 0.5}}}]
  quiet: {where: [{did_not: login, within: 7d}]}
audiences:
  ads:
    segment: de_buyers
    key: email
    fields: [email, phone, country]
    consent: {field: consent, value: 1}
    destination: {type: csv, path: out/ads.csv, hash_pii: true}
"""


def _build(root: Path) -> Path:
    (root / "data" / "events").mkdir(parents=True)
    con = sqlite3.connect(root / "data" / "shop.db")
    con.execute("CREATE TABLE customers (email TEXT, country TEXT, ltv REAL, phone TEXT, consent INTEGER)")
    con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", [
        (" A@x.com", "DE", 10.0, "+49 30 1234", 1), ("b@x.com", "DE", 7.0, None, 1),
        ("c@x.com", "FR", 5.0, None, 1), ("d@x.com", "DE", 1.0, "+49 40 1", 0)])
    con.commit()
    con.close()
    t = dt.datetime(2026, 11, 20)
    pq.write_table(pa.table({
        "email": ["a@x.com", "A@X.com", "b@x.com", "c@x.com", "c@x.com", "d@x.com", "d@x.com", "b@x.com"],
        "name": ["purchase", "purchase", "purchase", "purchase", "purchase", "purchase", "purchase", "login"],
        "ts": pa.array([t, t, t, t, t, t, t, t], pa.timestamp("us")),
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, None],
    }), root / "data" / "events" / "part-0.parquet")
    (root / "workspace.yaml").write_text(YAML)
    return root


def test_segments_over_entities_use_the_relation(tmp_path: Path) -> None:
    with Workspace.load(_build(tmp_path)) as ws:
        seg = get_segment(ws, "de_buyers", "2026-11-24")
        assert seg.key == "email"  # the entity's key
        assert "s.email IN (SELECT e1.customer_email FROM events AS e1" in seg.sql
        assert sorted(seg.run().column("email").to_pylist()) == ["a@x.com", "d@x.com"]
        quiet = get_segment(ws, "quiet", "2026-11-24").run().column("email").to_pylist()
        assert sorted(quiet) == ["a@x.com", "c@x.com", "d@x.com"]
        files = [f for f in get_segment(ws, "quiet", "2026-11-24").explain()["fragments"] if f["source"] == "files"]
        assert "login" in files[0]["request"]["filter"]  # the event name filter ran in the file scan


def test_model_pii_tags_are_hashed_and_consent_applies(tmp_path: Path) -> None:
    with Workspace.load(_build(tmp_path)) as ws:
        aud = get_audience(ws, "ads", "2026-11-24")
        rows = aud.to_arrow().to_pylist()
        assert rows == [{"email": hashlib.sha256(b"a@x.com").hexdigest(),
                         "phone": hashlib.sha256(b"49301234").hexdigest(), "country": "DE"}]
        p = aud.preview()
        assert (p["members"], p["exported"], p["excluded_without_consent"]) == (2, 1, 1)
        assert p["hashed_pii"] == ["email", "phone"]
