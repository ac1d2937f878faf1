"""The bench's CRM: 100k deterministic HubSpot contacts, served by the HubSpot emulator.

    python -m bench.crm [--contacts 100000] [--seed 7]          # (re)write the contacts file
    python -m bench.crm --serve [--port 8711]                   # serve it on loopback until Ctrl-C

The contacts are written once to ``bench/data/crm/contacts.parquet`` (typed
columns: the source of truth). ``serving()`` loads that file into the emulator
(``connectors/emulators/hubspot.py``) at HubSpot's documented limits, publishes its
address as BENCH_HUBSPOT_URL / BENCH_HUBSPOT_TOKEN (which ``workspace/sources.yaml``
reads) and stops it afterwards. DuckDB reads the same file only to count the
rows each answer needs (the "needed" yardstick); it cannot query HubSpot itself.

About 60 % of the contacts carry the email of a warehouse customer
(``user{id}@example.com``, ids drawn without repetition from bench.customers), so
joins between the CRM and PostgreSQL have matches; the rest have CRM-only emails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from connectors.emulators.hubspot import HubSpotEmulator
    from connectors.emulators.hubspot_data import Store

HERE = Path(__file__).resolve().parent
CONTACTS_FILE = HERE / "data" / "crm" / "contacts.parquet"
N_CONTACTS = 100_000
N_CUSTOMERS = 1_000_000  # bench.customers ids are 1..N_CUSTOMERS (bench/generate.py)
SEED = 7
TOKEN = "bench-hubspot-token"  # the loopback emulator's own token, not a credential
FIRST_ID = 1000  # HubSpot-like record ids, as the emulator's own generator uses
WAREHOUSE_SHARE = 0.6
VERSION = 1  # bump when generate() changes, so an old contacts file is rewritten

COUNTRIES = np.array(["DE", "FR", "US", "GB", "NL", "ES", "IT", "LU", "AT", "PL"])
COUNTRY_WEIGHTS = np.array([0.2, 0.15, 0.25, 0.12, 0.06, 0.07, 0.08, 0.002, 0.03, 0.038])
LIFECYCLE = np.array(["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
                      "evangelist", "other"])
LIFECYCLE_WEIGHTS = np.array([0.25, 0.2, 0.12, 0.08, 0.07, 0.2, 0.03, 0.05])
# HubSpot's default hs_lead_status options
LEAD_STATUS = np.array(["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED",
                        "BAD_TIMING"])
FIRST = np.array(["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj",
                  "Olivia", "Peggy", "Rupert", "Sybil"])
LAST = np.array(["Smith", "Jones", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas", "Johnson", "Roberts",
                 "Walker", "Wright"])
EPOCH = np.datetime64("2020-01-01T00:00:00", "ms")
SPAN_MS = 5 * 365 * 86_400_000

# HubSpot's documented limits (../shared/CRM-PROTOCOLS.md §1.3, §1.5), enforced by the
# emulator during the bench: search 5 requests/s per account; other calls 110 per
# rolling 10 s (the per-app burst limit, search excluded); search pages ≤ 200 and
# ≤ 10,000 results per query; list pages ≤ 100.
LIMITS: dict[str, Any] = {"search_per_second": 5, "burst_max": 110, "burst_seconds": 10.0, "search_cap": 10_000,
                          "list_max_limit": 100}


def generate(n: int = N_CONTACTS, seed: int = SEED, customers: int = N_CUSTOMERS) -> pa.Table:
    """``n`` contacts as typed Arrow columns; the same arguments give the same rows."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    ids = np.arange(FIRST_ID, FIRST_ID + n, dtype=np.int64)
    first, last = rng.choice(FIRST, n), rng.choice(LAST, n)
    in_warehouse = rng.random(n) < WAREHOUSE_SHARE
    cust_ids = rng.choice(customers, size=n, replace=False) + 1 if n <= customers else rng.integers(1, customers + 1, n)
    emails = [f"user{c}@example.com" if w else f"{f.lower()}.{s.lower()}{i}@mail.test"
              for c, w, f, s, i in zip(cust_ids.tolist(), in_warehouse.tolist(), first.tolist(), last.tolist(), ids.tolist())]
    country = rng.choice(COUNTRIES, n, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum())
    stage = rng.choice(LIFECYCLE, n, p=LIFECYCLE_WEIGHTS / LIFECYCLE_WEIGHTS.sum())
    status = rng.choice(LEAD_STATUS, n)
    # creation time rises with the id (HubSpot lists oldest first)
    created = EPOCH + np.sort(rng.integers(0, SPAN_MS, n)).astype("timedelta64[ms]")
    modified = created + rng.integers(0, 400 * 86_400_000, n).astype("timedelta64[ms]")
    visits = rng.integers(0, 200, n)

    def nulls(p: float) -> np.ndarray:
        return rng.random(n) < p

    return pa.table({
        "id": ids,
        "email": pa.array(emails, mask=nulls(0.02)),
        "firstname": pa.array(first, mask=nulls(0.02)),
        "lastname": pa.array(last, mask=nulls(0.02)),
        "country": pa.array(country, mask=nulls(0.05)),
        "lifecyclestage": pa.array(stage, mask=nulls(0.03)),
        # only leads-to-be carry a lead status in practice: a third have none
        "hs_lead_status": pa.array(status, mask=nulls(0.33)),
        "hs_analytics_num_visits": pa.array(visits, pa.int64(), mask=nulls(0.1)),
        "createdate": pa.array(created, pa.timestamp("ms", tz="UTC")),
        "lastmodifieddate": pa.array(modified, pa.timestamp("ms", tz="UTC")),
    })


def ensure(path: Path = CONTACTS_FILE, n: int = N_CONTACTS, seed: int = SEED, customers: int = N_CUSTOMERS) -> Path:
    """Write the contacts file when it is missing or was made with other arguments or generator."""
    import pyarrow.parquet as pq

    stamp = json.dumps({"contacts": n, "seed": seed, "customers": customers, "version": VERSION}).encode()
    if path.exists() and (pq.ParquetFile(path).schema_arrow.metadata or {}).get(b"bench.crm") == stamp:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    table = generate(n, seed, customers)
    pq.write_table(table.replace_schema_metadata({"bench.crm": stamp}), tmp)
    tmp.replace(path)  # a half-written file is never taken for the data
    return path


def _props() -> dict[str, Any]:
    from connectors.emulators.hubspot_data import Prop

    return {p.name: p for p in (
        Prop("hs_object_id", "number", "number", unique=True),
        Prop("createdate", "datetime", "date"),
        Prop("lastmodifieddate", "datetime", "date"),
        Prop("email", "string", "text", unique=True),
        Prop("firstname", "string", "text"),
        Prop("lastname", "string", "text"),
        Prop("country", "string", "text"),  # HubSpot's default country property is free text
        Prop("lifecyclestage", "enumeration", "radio", tuple(LIFECYCLE.tolist())),
        Prop("hs_lead_status", "enumeration", "select", tuple(LEAD_STATUS.tolist())),
        Prop("hs_analytics_num_visits", "number", "number"),
    )}


def _iso(ms: int) -> str:
    when = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def to_store(table: pa.Table) -> Store:
    """The emulator's store for ``table``: wire values are strings or null, as HubSpot sends them."""
    from connectors.emulators.hubspot_data import Store

    store = Store()
    store.props["contacts"] = _props()
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if name in ("createdate", "lastmodifieddate"):
            cols[name] = [None if v is None else _iso(v) for v in col.cast("int64").to_pylist()]
        else:
            cols[name] = [None if v is None else str(v) for v in col.to_pylist()]
    records: dict[int, dict[str, Any]] = {}
    for row in zip(*cols.values()):
        props = dict(zip(cols, row))
        rid = int(props.pop("id"))  # type: ignore[arg-type]
        props["hs_object_id"] = str(rid)
        records[rid] = {"id": rid, "properties": props, "createdAt": props["createdate"],
                        "updatedAt": props["lastmodifieddate"], "archived": False}
    store.records["contacts"] = records
    store.next_id["contacts"] = max(records, default=FIRST_ID - 1) + 1
    return store


def emulator(table: pa.Table, port: int = 0, **limits: Any) -> HubSpotEmulator:
    """A (not yet started) HubSpot emulator over ``table``, at HubSpot's limits unless overridden."""
    from connectors.emulators.hubspot import HubSpotEmulator

    return HubSpotEmulator(store=to_store(table), token=TOKEN, port=port, **{**LIMITS, **limits})


@contextlib.contextmanager
def serving(path: Path = CONTACTS_FILE, n: int = N_CONTACTS, customers: int = N_CUSTOMERS,
            **limits: Any) -> Iterator[HubSpotEmulator]:
    """Generate the contacts if missing, serve them on loopback, and point the bench workspace at them.

    Sets BENCH_HUBSPOT_URL and BENCH_HUBSPOT_TOKEN in this process's environment
    (children inherit them) and restores them on exit."""
    import pyarrow.parquet as pq

    emu = emulator(pq.read_table(ensure(path, n, customers=customers)), **limits).start()
    saved = {k: os.environ.get(k) for k in ("BENCH_HUBSPOT_URL", "BENCH_HUBSPOT_TOKEN")}
    os.environ.update(BENCH_HUBSPOT_URL=emu.url, BENCH_HUBSPOT_TOKEN=emu.token)
    try:
        yield emu
    finally:
        emu.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def limits_text(emu: HubSpotEmulator) -> str:
    """What the emulator enforced, in words, and how many 429s it sent."""
    throttled = sum(1 for r in emu.log if r.status == 429)
    searches = sum(1 for r in emu.log if r.method == "POST" and r.path.endswith("/search"))
    return (f"HubSpot emulator on loopback, {len(emu.store.records['contacts']):,} contacts; enforced HubSpot's documented limits: "
            f"search {emu.search_limiter.limit} requests/s per account, other calls (list, properties) "
            f"{emu.burst_max} per rolling {emu.burst_seconds:g} s, search pages ≤ 200 and ≤ {emu.search_cap:,} results "
            f"per query, list pages ≤ {emu.list_max_limit}. During this run it answered {len(emu.log):,} requests "
            f"({searches:,} searches) and sent {throttled:,} 429s.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="bench CRM contacts for the HubSpot emulator")
    ap.add_argument("--contacts", type=int, default=N_CONTACTS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--serve", action="store_true", help="serve the contacts on loopback until interrupted")
    ap.add_argument("--port", type=int, default=8711)
    args = ap.parse_args(argv)
    if args.serve:
        import pyarrow.parquet as pq

        from connectors.emulators.base import serve_until_killed

        serve_until_killed(emulator(pq.read_table(ensure(CONTACTS_FILE, args.contacts, args.seed)), port=args.port))
        return 0
    print(f"contacts in {ensure(CONTACTS_FILE, args.contacts, args.seed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
