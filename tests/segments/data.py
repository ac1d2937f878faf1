"""Deterministic customers and events, the workspaces that hold them, and a Python reference."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

AS_OF = dt.datetime(2026, 6, 30, 12, 0, 0)
EVENTS = ("purchase", "login", "view")
COUNTRIES = ("DE", "FR", "US", "BE", None)


def customers(n: int = 150, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        out.append({
            "customer_id": i,
            "email": f" User{i}@Example.COM " if i % 9 == 0 else f"user{i}@example.com",
            "country": rng.choice(COUNTRIES),
            "ltv": round(rng.uniform(0, 1000), 2) if i % 13 else None,
            "signup": (AS_OF - dt.timedelta(days=rng.randint(0, 400))).strftime("%Y-%m-%dT%H:%M:%S"),
            "consent": 1 if rng.random() < 0.7 else 0,
            "phone": f"+49 (30) {1000 + i}-{i % 97:02d}" if i % 4 else None,
        })
    return out


def events(n: int = 2500, customers_n: int = 150, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ts = AS_OF - dt.timedelta(minutes=rng.randint(0, 120 * 24 * 60))
        out.append({
            "customer_id": rng.randint(1, customers_n + 10) if rng.random() > 0.02 else None,
            "name": rng.choice(EVENTS),
            "ts": ts,
            "amount": round(rng.uniform(1, 100), 2) if rng.random() > 0.1 else None,
        })
    return out


def write_sqlite(path: Path, custs: list[dict[str, Any]], evs: list[dict[str, Any]] | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (customer_id INTEGER, email TEXT, country TEXT, ltv REAL, signup TEXT, "
                "consent INTEGER, phone TEXT)")
    con.executemany("INSERT INTO customers VALUES (:customer_id, :email, :country, :ltv, :signup, :consent, :phone)", custs)
    if evs is not None:
        con.execute("CREATE TABLE events (customer_id INTEGER, name TEXT, ts TEXT, amount REAL)")
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?)",
                        [(e["customer_id"], e["name"], e["ts"].strftime("%Y-%m-%dT%H:%M:%S"), e["amount"]) for e in evs])
    con.commit()
    con.close()


def write_parquet(folder: Path, evs: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "customer_id": pa.array([e["customer_id"] for e in evs], pa.int64()),
        "name": pa.array([e["name"] for e in evs], pa.string()),
        "ts": pa.array([e["ts"] for e in evs], pa.timestamp("us")),
        "amount": pa.array([e["amount"] for e in evs], pa.float64()),
    })
    pq.write_table(table, folder / "part-0.parquet")


def workspace(root: Path, segments_yaml: str, events_in: str = "shop", extra: str = "") -> Path:
    """shop (SQLite: customers[, events]); ``events_in='files'`` puts events in Parquet."""
    custs, evs = customers(), events()
    write_sqlite(root / "data" / "shop.db", custs, evs if events_in == "shop" else None)
    sources = "  shop: {type: sqlite, path: data/shop.db}\n"
    if events_in == "files":
        write_parquet(root / "data" / "events", evs)
        sources += "  files: {type: parquet, path: data/events/, table: events}\n"
    sources += textwrap.indent(textwrap.dedent(extra), "  ")  # more sources
    (root / "sources.yaml").write_text("sources:\n" + sources)
    (root / "segments.yaml").write_text("segments:\n" + textwrap.indent(textwrap.dedent(segments_yaml).strip("\n"), "  ") + "\n")
    return root


# -- the reference: the same conditions, in plain Python ------------------------------------
def count_events(evs: list[dict[str, Any]], name: str | None, start: dt.datetime | None, end: dt.datetime | None,
                 pred: Any = None) -> dict[int, int]:
    out: dict[int, int] = {}
    for e in evs:
        if e["customer_id"] is None or (name is not None and e["name"] != name):
            continue
        ts = e["ts"]
        if start is not None and ts < start:
            continue
        if end is not None and ts >= end:
            continue
        if pred is not None and not pred(e):
            continue
        out[e["customer_id"]] = out.get(e["customer_id"], 0) + 1
    return out
