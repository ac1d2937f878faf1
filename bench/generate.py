"""Deterministic bench data: customers and orders in PostgreSQL, events in Parquet.

    python -m bench.generate --customers 1000000 --orders 5000000 --events 10000000

Writes PostgreSQL schema ``bench`` (tables customers, orders) at $BENCH_PG_URI
(default postgresql://postgres@127.0.0.1:5432/test) and hive-partitioned Parquet
events under bench/data/events/month=YYYY-MM/. Same seed, same rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PG_URI = os.environ.get("BENCH_PG_URI", "postgresql://postgres@127.0.0.1:5432/test")
COUNTRIES = np.array(["DE", "FR", "US", "GB", "NL", "ES", "IT", "LU", "AT", "PL"])
WEIGHTS = np.array([0.2, 0.15, 0.25, 0.12, 0.06, 0.07, 0.08, 0.002, 0.03, 0.038])
STATUSES = np.array(["paid", "refunded", "pending"])
EVENTS = np.array(["page_view", "click", "add_to_cart", "purchase", "signup"])
EPOCH = np.datetime64("2024-01-01T00:00:00", "us")
DAYS = 365


def customers(n: int, rng: np.random.Generator) -> pa.Table:
    ids = np.arange(1, n + 1, dtype=np.int64)
    country = rng.choice(COUNTRIES, size=n, p=WEIGHTS / WEIGHTS.sum())
    ltv = np.round(rng.gamma(2.0, 600.0, size=n), 2)
    signup = EPOCH + (rng.integers(0, DAYS * 86400, size=n) * 1_000_000).astype("timedelta64[us]")
    emails = pa.array([f"user{i}@example.com" for i in ids])
    vip = rng.random(n) < 0.05
    return pa.table({"id": ids, "email": emails, "country": country, "ltv": ltv, "vip": vip,
                     "signup": pa.array(signup, pa.timestamp("us", tz="UTC"))})


def orders(n: int, n_customers: int, rng: np.random.Generator) -> pa.Table:
    ts = EPOCH + (rng.integers(0, DAYS * 86400, size=n) * 1_000_000).astype("timedelta64[us]")
    return pa.table({
        "id": np.arange(1, n + 1, dtype=np.int64),
        "customer_id": rng.integers(1, n_customers + 1, size=n, dtype=np.int64),
        "amount": np.round(rng.gamma(2.0, 40.0, size=n), 2),
        "status": rng.choice(STATUSES, size=n, p=[0.85, 0.05, 0.10]),
        "created_at": pa.array(ts, pa.timestamp("us", tz="UTC")),
    })


def events(n: int, n_customers: int, rng: np.random.Generator) -> pa.Table:
    secs = np.sort(rng.integers(0, DAYS * 86400, size=n))
    ts = EPOCH + (secs * 1_000_000).astype("timedelta64[us]")
    month = np.datetime_as_string(ts.astype("datetime64[M]"))
    return pa.table({
        "customer_id": rng.integers(1, n_customers + 1, size=n, dtype=np.int64),
        "name": rng.choice(EVENTS, size=n, p=[0.6, 0.25, 0.08, 0.05, 0.02]),
        "value": rng.integers(0, 100, size=n, dtype=np.int64),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "month": month,
    })


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="generate fedcdp bench data")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=5_000_000)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    import adbc_driver_postgresql.dbapi as pg
    import pyarrow.dataset as ds

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    cust, ords = customers(args.customers, rng), orders(args.orders, args.customers, rng)
    with pg.connect(PG_URI) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS bench CASCADE")
        cur.execute("CREATE SCHEMA bench")
        cur.adbc_ingest("customers", cust, mode="create", db_schema_name="bench")
        cur.adbc_ingest("orders", ords, mode="create", db_schema_name="bench")
        cur.execute("CREATE INDEX ON bench.customers (id)")
        cur.execute("CREATE INDEX ON bench.customers (country)")
        cur.execute("CREATE INDEX ON bench.orders (customer_id)")
        cur.execute("ANALYZE bench.customers")
        cur.execute("ANALYZE bench.orders")
        con.commit()
    ev = events(args.events, args.customers, rng)
    shutil.rmtree(DATA / "events", ignore_errors=True)
    ds.write_dataset(ev, DATA / "events", format="parquet", partitioning=["month"], partitioning_flavor="hive",
                     max_rows_per_group=256_000)
    print(f"generated {args.customers} customers, {args.orders} orders, {args.events} events "
          f"in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
