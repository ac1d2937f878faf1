"""Small Arrow tables with mixed types, NULLs everywhere, duplicate keys, an empty table."""

from __future__ import annotations

import datetime as dt
import decimal
import random

import pyarrow as pa

UTC = dt.timezone.utc


def _maybe(rng: random.Random, value: object, p: float = 0.15) -> object:
    return None if rng.random() < p else value


def customers(n: int = 60, seed: int = 1) -> pa.Table:
    rng = random.Random(seed)
    names = ["Ann", "ann", " Bob", "bob ", "Cy", "Dee", "ÉLA", "zoë", "Al%", "a_b"]
    countries = ["DE", "FR", "US", "de", None]
    rows = {
        "id": pa.array(range(1, n + 1), pa.int64()),
        "name": pa.array([_maybe(rng, rng.choice(names), 0.1) for _ in range(n)], pa.string()),
        "email": pa.array([f"user{i}@example.com" if i % 7 else f"USER{i}@Example.com " for i in range(n)],
                          pa.large_string()),
        "country": pa.array([rng.choice(countries) for _ in range(n)]).dictionary_encode(),
        "age": pa.array([_maybe(rng, rng.randint(15, 80)) for _ in range(n)], pa.int32()),
        "ltv": pa.array([_maybe(rng, round(rng.uniform(-50, 5000), 2)) for _ in range(n)], pa.float64()),
        "vip": pa.array([_maybe(rng, rng.random() < 0.3) for _ in range(n)], pa.bool_()),
        "signup": pa.array([_maybe(rng, dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 700)))
                            for _ in range(n)], pa.date32()),
    }
    return pa.table(rows)


def orders(n: int = 150, seed: int = 2) -> pa.Table:
    rng = random.Random(seed)
    statuses = ["paid", "shipped", "refunded", "Paid", None]
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    return pa.table({
        "id": pa.array(range(1000, 1000 + n), pa.int64()),
        # duplicate keys, NULL keys and keys with no customer
        "customer_id": pa.array([_maybe(rng, rng.randint(1, 70), 0.08) for _ in range(n)], pa.int32()),
        "amount": pa.array([_maybe(rng, decimal.Decimal(rng.randint(-500, 90000)) / 100) for _ in range(n)],
                           pa.decimal128(10, 2)),
        "qty": pa.array([_maybe(rng, rng.randint(0, 9)) for _ in range(n)], pa.int16()),
        "status": pa.array([rng.choice(statuses) for _ in range(n)], pa.string()),
        "created_at": pa.array([_maybe(rng, start + dt.timedelta(minutes=rng.randint(0, 600_000)))
                                for _ in range(n)], pa.timestamp("us", tz="UTC")),
    })


def events(n: int = 200, seed: int = 3) -> pa.Table:
    rng = random.Random(seed)
    kinds = ["view", "click", "buy", "View", None]
    start = dt.datetime(2024, 3, 1)
    return pa.table({
        "customer_id": pa.array([_maybe(rng, rng.randint(1, 65), 0.05) for _ in range(n)], pa.int64()),
        "name": pa.array([rng.choice(kinds) for _ in range(n)], pa.string()),
        "ts": pa.array([_maybe(rng, start + dt.timedelta(seconds=rng.randint(0, 90 * 86400)), 0.05)
                        for _ in range(n)], pa.timestamp("ms")),
        "value": pa.array([_maybe(rng, round(rng.uniform(0, 100), 3)) for _ in range(n)], pa.float64()),
        "flag": pa.array([None] * n, pa.null()),
    })


def all_tables() -> dict[str, pa.Table]:
    o = orders()
    return {"customers": customers(), "orders": o, "events": events(), "empty": o.slice(0, 0)}


def sql_type(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return sql_type(t.value_type)
    if pa.types.is_int32(t) or pa.types.is_int16(t) or pa.types.is_int8(t):
        return "INT"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision}, {t.scale})"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_null(t):
        return "INT"
    return "TEXT"


def schema_of(tables: dict[str, pa.Table]) -> dict[str, dict[str, str]]:
    return {name: {f.name: sql_type(f.type) for f in t.schema} for name, t in tables.items()}
