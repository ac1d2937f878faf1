"""Deterministic demo data: a shop (SQLite), web events (hive Parquet), support tickets (CSV).

Everything is derived from one seed and one fixed "as-of" date, so two machines
build byte-for-byte the same rows and the demo prints the same answers. Only
``random.Random.random()`` is used: its Mersenne Twister stream is stable across
Python versions, unlike ``randrange``/``choice`` whose algorithms have changed.

Written under ``<workspace>/data/`` (git-ignored):

- ``shop.db``: ``customers`` (2,000) and ``orders`` (about 6,000)
- ``events/month=YYYY-MM/part-0.parquet``: ``events`` (120,000; 10 % of customers have none)
- ``support_tickets.csv``: ``support_tickets`` (600)
- ``newsletter_signups.csv``: ``signups`` (1,200; about 2/3 are shop customers, whose
  emails come back in other case and with stray spaces, 1/3 are not customers)
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

AS_OF = dt.datetime(2025, 12, 31, tzinfo=dt.timezone.utc)  # the demo's "today"
HISTORY_DAYS = 365
SEED = 20251231
N_CUSTOMERS = 2_000
N_EVENTS = 120_000
N_TICKETS = 600
N_SIGNUPS = 1_200
COUNTRIES = (("DE", 0.22), ("US", 0.25), ("FR", 0.14), ("GB", 0.12), ("NL", 0.08),
             ("ES", 0.07), ("IT", 0.07), ("PL", 0.05))
EVENT_KINDS = (("page_view", 0.58), ("click", 0.22), ("add_to_cart", 0.1),
               ("purchase", 0.06), ("email_open", 0.04))
FIRST = ("Ada", "Ben", "Chloe", "Dmitri", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jonas",
         "Kira", "Lars", "Mia", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Sven", "Tara")
LAST = ("Abel", "Berger", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ivanov",
        "Jansen", "Keller", "Lopez", "Meyer", "Novak", "Olsen", "Petit", "Rossi", "Smith")
TOPICS = (("billing", 0.3), ("delivery", 0.35), ("returns", 0.2), ("account", 0.15))

Progress = Callable[[str], None]


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    x, acc = rng.random() * sum(w for _, w in weighted), 0.0
    for value, weight in weighted:
        acc += weight
        if x < acc:
            return value
    return weighted[-1][0]


def _int(rng: random.Random, lo: int, hi: int) -> int:
    """A whole number in [lo, hi], from random() only (see module docstring)."""
    return lo + int(rng.random() * (hi - lo + 1))


def _moment(rng: random.Random) -> dt.datetime:
    """A second in the year before AS_OF."""
    return AS_OF - dt.timedelta(seconds=_int(rng, 1, HISTORY_DAYS * 86_400))


def _iso(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def customers(rng: random.Random) -> list[tuple]:
    rows = []
    for cid in range(1, N_CUSTOMERS + 1):
        first, last = FIRST[_int(rng, 0, len(FIRST) - 1)], LAST[_int(rng, 0, len(LAST) - 1)]
        email = f"{first}.{last}{cid}@example.com"
        # mixed case on purpose: joins across sources go through lower(email)
        email = email if cid % 3 else email.upper()
        signup = (AS_OF - dt.timedelta(days=_int(rng, 30, 3 * 365))).date().isoformat()
        rows.append((cid, email, first, last, _pick(rng, COUNTRIES), signup, int(rng.random() < 0.06)))
    return rows


def orders(rng: random.Random) -> list[tuple]:
    rows, oid = [], 0
    for cid in range(1, N_CUSTOMERS + 1):
        for _ in range(_int(rng, 0, 5)):
            oid += 1
            amount = round(15 + rng.random() ** 2 * 480, 2)
            status = _pick(rng, (("paid", 0.86), ("refunded", 0.06), ("pending", 0.08)))
            rows.append((oid, cid, amount, status, _iso(_moment(rng))))
    return rows


def write_shop(path: Path, rng: random.Random) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        con.executescript(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, first_name TEXT,"
            " last_name TEXT, country TEXT, signup_date DATE, vip BOOLEAN);"
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL,"
            " amount REAL NOT NULL, status TEXT NOT NULL, ordered_at TIMESTAMP NOT NULL);"
            "CREATE INDEX orders_customer ON orders (customer_id);")
        con.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?,?)", customers(rng))
        con.executemany("INSERT INTO orders VALUES (?,?,?,?,?)", orders(rng))
        con.commit()
    finally:
        con.close()
    tmp.replace(path)  # a half-written file never looks like finished data


def events(rng: random.Random) -> dict[str, dict[str, list]]:
    """Events grouped by month. Every tenth customer has none (the "no events" segment)."""
    active = [c for c in range(1, N_CUSTOMERS + 1) if c % 10]
    by_month: dict[str, dict[str, list]] = {}
    for _ in range(N_EVENTS):
        # skewed: low ids are the heavy users, so top lists are stable and interesting
        cid = active[int(rng.random() ** 1.6 * len(active))]
        ts = _moment(rng)
        cols = by_month.setdefault(ts.strftime("%Y-%m"), {"customer_id": [], "event": [], "ts": [], "value": []})
        kind = _pick(rng, EVENT_KINDS)
        cols["customer_id"].append(cid)
        cols["event"].append(kind)
        cols["ts"].append(ts)
        cols["value"].append(round(10 + rng.random() * 190, 2) if kind == "purchase" else None)
    return by_month


def write_events(folder: Path, rng: random.Random) -> None:
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    schema = pa.schema([("customer_id", pa.int64()), ("event", pa.string()),
                        ("ts", pa.timestamp("us", tz="UTC")), ("value", pa.float64())])
    for month, cols in sorted(events(rng).items()):
        order = sorted(range(len(cols["ts"])), key=lambda i: (cols["ts"][i], cols["customer_id"][i]))
        table = pa.table({k: [v[i] for i in order] for k, v in cols.items()}, schema=schema)
        (tmp / f"month={month}").mkdir(parents=True)
        pq.write_table(table, tmp / f"month={month}" / "part-0.parquet")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def write_tickets(path: Path, rng: random.Random) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["ticket_id", "email", "topic", "status", "opened_at"])
        for tid in range(1, N_TICKETS + 1):
            cid = _int(rng, 1, N_CUSTOMERS // 2)  # tickets come from the first half of the base
            first, last = _name_of(cid)
            status = _pick(rng, (("open", 0.3), ("pending", 0.2), ("closed", 0.5)))
            opened = _moment(rng).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.writerow([tid, f"{first}.{last}{cid}@example.com".lower(), _pick(rng, TOPICS), status, opened])
    tmp.replace(path)


def write_signups(path: Path, rng: random.Random) -> None:
    """Newsletter sign-ups: the second source of the demo's merged `customers` profile."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "country", "opt_in", "subscribed_at"])
        for i in range(1, N_SIGNUPS + 1):
            if rng.random() < 0.67:
                cid = _int(rng, 1, N_CUSTOMERS)
                first, last = _name_of(cid)
                email = f"{first}.{last}{cid}@example.com"
                email = f"  {email.upper()} " if i % 4 == 0 else email.lower()
            else:
                first, last = FIRST[_int(rng, 0, len(FIRST) - 1)], LAST[_int(rng, 0, len(LAST) - 1)]
                email = f"{first}.{last}.news{i}@example.org".lower()
            # the sign-up form's country is optional, and sometimes disagrees with the shop's
            country = "" if rng.random() < 0.3 else _pick(rng, COUNTRIES)
            opted = "true" if rng.random() < 0.8 else "false"
            subscribed = _moment(rng).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.writerow([email, first, country, opted, subscribed])
    tmp.replace(path)


def _name_of(cid: int) -> tuple[str, str]:
    """The customer's name as customers() drew it (replayed from the same seed)."""
    if not _NAMES:
        for row in customers(random.Random(SEED)):
            _NAMES[row[0]] = (row[2], row[3])
    return _NAMES[cid]


_NAMES: dict[int, tuple[str, str]] = {}

FILES = ("shop.db", "events", "support_tickets.csv", "newsletter_signups.csv")


def missing(data_dir: Path) -> list[str]:
    return [f for f in FILES if not (data_dir / f).exists()]


def build(data_dir: Path, progress: Progress | None = None, force: bool = False) -> list[str]:
    """Write whatever demo data is missing (everything with ``force``); return what was written."""
    data_dir.mkdir(parents=True, exist_ok=True)
    todo = list(FILES) if force else missing(data_dir)
    say = progress or (lambda _msg: None)
    # each file has its own stream so rebuilding one does not change the others
    writers = {"shop.db": write_shop, "events": write_events, "support_tickets.csv": write_tickets,
               "newsletter_signups.csv": write_signups}
    for offset, name in enumerate(FILES):
        if name in todo:
            say(f"writing {name}")
            writers[name](data_dir / name, random.Random(SEED + offset))
    return todo
