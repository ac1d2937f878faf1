"""Seeded Zoho CRM modules for the emulator: fields metadata and records.

Deterministic (``random.Random(seed)``) so tests compare against DuckDB over the very
same rows. Values are stored as Zoho's JSON renders them (CRM-PROTOCOLS 4.4): ids are
strings of 19 digits, dates ``YYYY-MM-DD``, datetimes with a ``+05:30`` offset,
lookups ``{"name", "id"}``, multi-select picklists as JSON arrays, nulls as ``null``,
plus ``$``-prefixed meta keys.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from typing import Any

IST = timezone(timedelta(hours=5, minutes=30))

# module -> field api name -> (data_type, lookup module or None)
SCHEMAS: dict[str, dict[str, tuple[str, str | None]]] = {
    "Accounts": {
        "id": ("bigint", None),
        "Account_Name": ("text", None),
        "Industry": ("picklist", None),
        "Employees": ("integer", None),
        "Annual_Revenue": ("currency", None),
        "Rating": ("picklist", None),
        "Owner": ("ownerlookup", "users"),
        "Created_Time": ("datetime", None),
        "Modified_Time": ("datetime", None),
    },
    "Contacts": {
        "id": ("bigint", None),
        "First_Name": ("text", None),
        "Last_Name": ("text", None),
        "Email": ("email", None),
        "Phone": ("phone", None),
        "Lead_Source": ("picklist", None),
        "Account_Name": ("lookup", "Accounts"),
        "Owner": ("ownerlookup", "users"),
        "Date_of_Birth": ("date", None),
        "Visits": ("integer", None),
        "Annual_Spend": ("currency", None),
        "Score": ("double", None),
        "Email_Opt_Out": ("boolean", None),
        "Interests": ("multiselectpicklist", None),
        "Description": ("textarea", None),
        "Created_Time": ("datetime", None),
        "Modified_Time": ("datetime", None),
    },
    "Deals": {
        "id": ("bigint", None),
        "Deal_Name": ("text", None),
        "Amount": ("currency", None),
        "Stage": ("picklist", None),
        "Probability": ("percent", None),
        "Closing_Date": ("date", None),
        "Account_Name": ("lookup", "Accounts"),
        "Contact_Name": ("lookup", "Contacts"),
        "Owner": ("ownerlookup", "users"),
        "Created_Time": ("datetime", None),
        "Modified_Time": ("datetime", None),
    },
}
PREFIX = {"Accounts": "33889260001", "Contacts": "33889260002", "Deals": "33889260003"}
OWNERS = [("Asha Rao", "3388926000000090001"), ("Ben Ode", "3388926000000090002"), ("Chen Li", "3388926000000090003")]
PICKLISTS = {
    "Industry": ["Banking", "Retail", "Technology", "Energy"],
    "Rating": ["Hot", "Warm", "Cold"],
    "Lead_Source": ["Web", "Cold Call", "Partner", "Trade Show"],
    "Stage": ["Qualification", "Negotiation", "Closed Won", "Closed Lost"],
    "Interests": ["Golf", "Hiking", "Sailing", "Tennis"],
}
FIRST = ["Ana", "bob", "Chloé", "Dev", "Eve", "Fay", "Gus", "Hana", "ivan", "Jo", "Kai", "Lea"]
LAST = ["Smith", "smith", "O'Brien", "Nguyen", "Garcia", "Müller", "Khan", "Lee", "Brown", "Rossi"]


def make_id(module: str, n: int) -> str:
    return f"{PREFIX[module]}{n:08d}"  # 19 digits, so text order is numeric order


def zoho_datetime(when: datetime) -> str:
    return when.astimezone(IST).replace(microsecond=0).isoformat()


def fields_metadata(module: str, schema: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
    """The body of GET /crm/v7/settings/fields?module=... (only the keys a reader needs)."""
    out = []
    for i, (name, (dtype, lookup)) in enumerate(schema.items()):
        if name == "id":
            continue  # the record id is not a listed field in Zoho's metadata
        f: dict[str, Any] = {"api_name": name, "data_type": dtype, "field_label": name.replace("_", " "),
                             "id": f"3388926000000{i + 1:06d}", "json_type": _json_type(dtype), "custom_field": False}
        if dtype == "lookup":
            f["lookup"] = {"module": {"api_name": lookup}}
        if dtype in ("picklist", "multiselectpicklist"):
            f["pick_list_values"] = [{"display_value": v, "actual_value": v} for v in PICKLISTS.get(name, [])]
        out.append(f)
    return {"fields": out}


def _json_type(dtype: str) -> str:
    return {"integer": "integer", "bigint": "string", "double": "double", "currency": "double", "percent": "double",
            "boolean": "boolean", "lookup": "jsonobject", "ownerlookup": "jsonobject",
            "multiselectpicklist": "jsonarray"}.get(dtype, "string")


def seed(accounts: int = 40, contacts: int = 250, deals: int = 120, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def stamp() -> tuple[str, str]:
        created = base + timedelta(seconds=rng.randrange(0, 400 * 86400))
        return zoho_datetime(created), zoho_datetime(created + timedelta(seconds=rng.randrange(0, 30 * 86400)))

    def owner() -> dict[str, str]:
        name, oid = rng.choice(OWNERS)
        return {"name": name, "id": oid}

    out: dict[str, list[dict[str, Any]]] = {"Accounts": [], "Contacts": [], "Deals": []}
    for i in range(1, accounts + 1):
        c, m = stamp()
        out["Accounts"].append({
            "id": make_id("Accounts", i), "Account_Name": f"Account {i:03d}",
            "Industry": rng.choice(PICKLISTS["Industry"] + [None]), "Employees": rng.choice([None, rng.randrange(1, 5000)]),
            "Annual_Revenue": rng.choice([None, round(rng.uniform(1e4, 1e7), 2)]), "Rating": rng.choice(PICKLISTS["Rating"]),
            "Owner": owner(), "Created_Time": c, "Modified_Time": m, "$currency_symbol": "$", "$approved": True,
        })
    accts = out["Accounts"]
    for i in range(1, contacts + 1):
        c, m = stamp()
        acct = rng.choice(accts + [None]) if accts else None
        first, last = rng.choice(FIRST + [None]), rng.choice(LAST)
        out["Contacts"].append({
            "id": make_id("Contacts", i), "First_Name": first, "Last_Name": last,
            "Email": None if rng.random() < 0.1 else f"{(first or 'x').lower()}.{i}@example.{rng.choice(['com', 'org'])}",
            "Phone": rng.choice([None, f"+1-555-{rng.randrange(1000, 9999)}"]),
            "Lead_Source": rng.choice(PICKLISTS["Lead_Source"] + [None]),
            "Account_Name": None if acct is None else {"name": acct["Account_Name"], "id": acct["id"]},
            "Owner": owner(),
            "Date_of_Birth": rng.choice([None, (date(1960, 1, 1) + timedelta(days=rng.randrange(0, 15000))).isoformat()]),
            "Visits": rng.choice([None, rng.randrange(0, 60)]),
            "Annual_Spend": rng.choice([None, round(rng.uniform(0, 20000), 2)]),
            "Score": rng.choice([None, round(rng.uniform(-5, 100), 3)]),
            "Email_Opt_Out": rng.random() < 0.3,
            "Interests": sorted(rng.sample(PICKLISTS["Interests"], rng.randrange(0, 3))) if rng.random() < 0.8 else [],
            "Description": rng.choice([None, "Met at the fair.\nFollow up."]),
            "Created_Time": c, "Modified_Time": m, "$currency_symbol": "$", "$approved": True, "$editable": True,
        })
    contacts_ = out["Contacts"]
    for i in range(1, deals + 1):
        c, m = stamp()
        acct = rng.choice(accts) if accts else None
        ct = rng.choice(contacts_ + [None]) if contacts_ else None
        out["Deals"].append({
            "id": make_id("Deals", i), "Deal_Name": f"Deal {i:03d}", "Amount": rng.choice([None, round(rng.uniform(100, 90000), 2)]),
            "Stage": rng.choice(PICKLISTS["Stage"]), "Probability": float(rng.choice([10, 25, 50, 75, 100])),
            "Closing_Date": (date(2024, 1, 1) + timedelta(days=rng.randrange(0, 500))).isoformat(),
            "Account_Name": None if acct is None else {"name": acct["Account_Name"], "id": acct["id"]},
            "Contact_Name": None if ct is None else {"name": f"{ct['First_Name'] or ''} {ct['Last_Name']}".strip(), "id": ct["id"]},
            "Owner": owner(), "Created_Time": c, "Modified_Time": m, "$currency_symbol": "$",
        })
    return out
