"""Deterministic test rows, written to real sources in several combinations.

The same Arrow tables are loaded into DuckDB (the oracle) and into SQLite,
PostgreSQL, Parquet and CSV; a query's answer through fedcdp must equal
DuckDB's over the same rows.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

import pyarrow as pa

UTC = dt.timezone.utc
COUNTRIES = ["DE", "FR", "US", "GB", None]
EVENTS = ["page_view", "click", "purchase", "signup", None]


def make_tables(n_customers: int = 300, seed: int = 7) -> dict[str, pa.Table]:
    rnd = random.Random(seed)
    base = dt.datetime(2024, 1, 1, tzinfo=UTC)
    cust = {"id": [], "email": [], "country": [], "ltv": [], "age": [], "vip": [], "signup": []}
    for i in range(1, n_customers + 1):
        cust["id"].append(i)
        email = f"user{i % 250}@example.com"
        variant = rnd.random()
        email = email.upper() if variant < 0.1 else (f"  {email} " if variant < 0.15 else email)
        cust["email"].append(None if rnd.random() < 0.05 else email)
        cust["country"].append(rnd.choice(COUNTRIES))
        cust["ltv"].append(None if rnd.random() < 0.1 else round(rnd.uniform(0, 5000), 2))
        cust["age"].append(None if rnd.random() < 0.1 else rnd.randint(16, 90))
        cust["vip"].append(None if rnd.random() < 0.1 else rnd.random() < 0.2)
        cust["signup"].append((base + dt.timedelta(days=rnd.randint(0, 600))).date())
    orders = {"id": [], "customer_id": [], "amount": [], "status": [], "qty": [], "created_at": []}
    for j in range(1, n_customers * 3 + 1):
        orders["id"].append(j)
        orders["customer_id"].append(None if rnd.random() < 0.03 else rnd.randint(1, n_customers + 20))
        orders["amount"].append(None if rnd.random() < 0.05 else round(rnd.uniform(1, 500), 2))
        orders["status"].append(rnd.choice(["paid", "refunded", "pending", None]))
        orders["qty"].append(rnd.randint(1, 9))
        orders["created_at"].append(base + dt.timedelta(minutes=rnd.randint(0, 900_000)))
    events = {"customer_id": [], "name": [], "value": [], "ts": [], "month": []}
    for _ in range(n_customers * 6):
        events["customer_id"].append(None if rnd.random() < 0.02 else rnd.randint(1, n_customers + 20))
        events["name"].append(rnd.choice(EVENTS))
        events["value"].append(None if rnd.random() < 0.2 else rnd.randint(-5, 100))
        ts = base + dt.timedelta(seconds=rnd.randint(0, 50_000_000))
        events["ts"].append(ts)
        events["month"].append(ts.strftime("%Y-%m"))
    ts = pa.timestamp("us", tz="UTC")
    return {
        "customers": pa.table(cust, schema=pa.schema([
            ("id", pa.int64()), ("email", pa.string()), ("country", pa.string()), ("ltv", pa.float64()),
            ("age", pa.int64()), ("vip", pa.bool_()), ("signup", pa.date32())])),
        "orders": pa.table(orders, schema=pa.schema([
            ("id", pa.int64()), ("customer_id", pa.int64()), ("amount", pa.float64()), ("status", pa.string()),
            ("qty", pa.int64()), ("created_at", ts)])),
        "events": pa.table(events, schema=pa.schema([
            ("customer_id", pa.int64()), ("name", pa.string()), ("value", pa.int64()), ("ts", ts),
            ("month", pa.string())])),
    }


_SQLITE_TYPES = {pa.int64(): "INTEGER", pa.float64(): "REAL", pa.string(): "TEXT", pa.bool_(): "BOOLEAN",
                 pa.date32(): "DATE"}


def write_sqlite(path: Path, tables: dict[str, pa.Table]) -> None:
    con = sqlite3.connect(path)
    for name, t in tables.items():
        cols = ", ".join(f'"{f.name}" {_SQLITE_TYPES.get(f.type, "TIMESTAMP")}' for f in t.schema)
        con.execute(f'CREATE TABLE "{name}" ({cols})')
        rows = [tuple(_sqlite_value(v) for v in r.values()) for r in t.to_pylist()]
        con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * t.num_columns)})', rows)
    con.commit()
    con.close()


def _sqlite_value(v: object) -> object:
    if isinstance(v, dt.datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    return v


def write_postgres(uri: str, schema: str, tables: dict[str, pa.Table]) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(uri) as con, con.cursor() as cur:
        for name, t in tables.items():
            cur.adbc_ingest(name, t, mode="replace", db_schema_name=schema)
        con.commit()


def write_parquet(folder: Path, table: pa.Table, hive_by: str | None = None) -> None:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    if hive_by is None:
        pq.write_table(table, folder / "part-0.parquet", row_group_size=max(1, table.num_rows // 4))
        return
    ds.write_dataset(table, folder, format="parquet", partitioning=[hive_by], partitioning_flavor="hive",
                     existing_data_behavior="overwrite_or_ignore")


def write_csv(path: Path, table: pa.Table) -> None:
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path)
