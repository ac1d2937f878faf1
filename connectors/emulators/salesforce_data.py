"""Seeded Salesforce objects for the emulator: describe metadata and records.

Deterministic (a seeded ``random.Random``) so tests can compare against DuckDB over
the very same rows. Values are stored the way the REST API renders them: dates as
``YYYY-MM-DD``, datetimes as ``...000+0000``, multi-select picklists ``;``-joined.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from typing import Any

# name -> (type, nillable, externalId)
SCHEMAS: dict[str, dict[str, tuple[str, bool, bool]]] = {
    "Account": {
        "Id": ("id", False, False),
        "Name": ("string", False, False),
        "Industry": ("picklist", True, False),
        "AnnualRevenue": ("currency", True, False),
        "NumberOfEmployees": ("int", True, False),
        "IsActive__c": ("boolean", False, False),
        "CreatedDate": ("datetime", False, False),
    },
    "Contact": {
        "Id": ("id", False, False),
        "FirstName": ("string", True, False),
        "LastName": ("string", False, False),
        "Email": ("email", True, False),
        "Phone": ("phone", True, False),
        "AccountId": ("reference", True, False),
        "LeadSource": ("picklist", True, False),
        "Interests__c": ("multipicklist", True, False),
        "Birthdate": ("date", True, False),
        "Score__c": ("double", True, False),
        "Visits__c": ("int", True, False),
        "HasOptedOutOfEmail": ("boolean", False, False),
        "External_Id__c": ("string", True, True),
        "CreatedDate": ("datetime", False, False),
        "LastModifiedDate": ("datetime", False, False),
    },
    "Opportunity": {
        "Id": ("id", False, False),
        "Name": ("string", False, False),
        "AccountId": ("reference", True, False),
        "Amount": ("currency", True, False),
        "StageName": ("picklist", False, False),
        "Probability": ("percent", True, False),
        "CloseDate": ("date", False, False),
        "IsWon": ("boolean", False, False),
        "CreatedDate": ("datetime", False, False),
    },
}
PICKLISTS = {
    "Industry": ["Banking", "Retail", "Technology", "Energy"],
    "LeadSource": ["Web", "Phone Inquiry", "Partner Referral", "Trade Show"],
    "Interests__c": ["Golf", "Hiking", "Sailing", "Tennis"],
    "StageName": ["Prospecting", "Negotiation", "Closed Won", "Closed Lost"],
}
PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006"}
FIRST = ["Ada", "Bob", "Chloé", "dan", "Eve", "Finn", "Gia", "Hugo", "Ines", "José"]
LAST = ["Smith", "O'Brien", "Nguyen", "müller", "Garcia", "Kowalski", "Ito", "Lee"]


def sf_datetime(dt: datetime) -> str:
    """The REST rendering: milliseconds and an offset without a colon."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def make_id(sobject: str, n: int) -> str:
    return f"{PREFIX.get(sobject, 'a00')}{n:015d}"


def describe(sobject: str, fields: dict[str, tuple[str, bool, bool]]) -> dict[str, Any]:
    """A DescribeSObjectResult subset: what a connector needs to type the columns."""
    out = []
    for name, (ftype, nillable, ext) in fields.items():
        f: dict[str, Any] = {
            "name": name, "label": name.replace("__c", "").replace("_", " "), "type": ftype,
            "nillable": nillable, "externalId": ext, "unique": ext or name == "Id",
            "filterable": True, "sortable": ftype != "multipicklist", "groupable": ftype not in ("double", "currency", "percent", "multipicklist"),
            "length": 255 if ftype not in ("int", "double", "currency", "percent", "boolean", "date", "datetime") else 0,
            "precision": 18 if ftype in ("double", "currency", "percent") else 0,
            "scale": 2 if ftype in ("double", "currency", "percent") else 0,
            "referenceTo": (["Account"] if ftype == "reference" else []),
            "picklistValues": [
                {"value": v, "label": v, "active": True, "defaultValue": False} for v in PICKLISTS.get(name, [])
            ],
        }
        out.append(f)
    return {"name": sobject, "label": sobject, "queryable": True, "custom": False, "fields": out,
            "urls": {"describe": f"/sobjects/{sobject}/describe"}}


def seed(contacts: int = 250, accounts: int = 12, opportunities: int = 60, seed_value: int = 7) -> dict[str, list[dict[str, Any]]]:
    rnd = random.Random(seed_value)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    acc = []
    for i in range(1, accounts + 1):
        acc.append({
            "Id": make_id("Account", i), "Name": f"Account {i:02d}",
            "Industry": rnd.choice(PICKLISTS["Industry"] + [None]),
            "AnnualRevenue": rnd.choice([None, round(rnd.uniform(1e4, 1e7), 2)]),
            "NumberOfEmployees": rnd.choice([None, rnd.randint(1, 5000)]),
            "IsActive__c": rnd.random() < 0.7,
            "CreatedDate": sf_datetime(base + timedelta(days=i, seconds=rnd.randint(0, 86399))),
        })
    con = []
    for i in range(1, contacts + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        email = f"{first}.{last}{i}@Example.COM" if i % 3 == 0 else f"{first.lower()}.{i}@example.com"
        created = base + timedelta(days=rnd.randint(0, 700), seconds=rnd.randint(0, 86399), milliseconds=rnd.randint(0, 999))
        interests = rnd.sample(PICKLISTS["Interests__c"], rnd.randint(0, 3))
        con.append({
            "Id": make_id("Contact", i), "FirstName": first if i % 11 else None, "LastName": last,
            "Email": None if i % 13 == 0 else email,
            "Phone": None if i % 4 == 0 else f"+1 555 {i:04d}",
            "AccountId": None if i % 9 == 0 else make_id("Account", rnd.randint(1, accounts)),
            "LeadSource": rnd.choice(PICKLISTS["LeadSource"] + [None]),
            "Interests__c": ";".join(interests) if interests else None,
            "Birthdate": None if i % 7 == 0 else (date(1960, 1, 1) + timedelta(days=rnd.randint(0, 15000))).isoformat(),
            "Score__c": None if i % 5 == 0 else round(rnd.uniform(0, 100), 3),
            "Visits__c": None if i % 6 == 0 else rnd.randint(0, 40),
            "HasOptedOutOfEmail": rnd.random() < 0.2,
            "External_Id__c": f"ext-{i}",
            "CreatedDate": sf_datetime(created),
            "LastModifiedDate": sf_datetime(created + timedelta(days=rnd.randint(0, 30))),
        })
    opp = []
    for i in range(1, opportunities + 1):
        stage = rnd.choice(PICKLISTS["StageName"])
        opp.append({
            "Id": make_id("Opportunity", i), "Name": f"Deal {i}",
            "AccountId": make_id("Account", rnd.randint(1, accounts)) if i % 10 else None,
            "Amount": None if i % 8 == 0 else round(rnd.uniform(100, 100000), 2),
            "StageName": stage, "Probability": rnd.choice([10.0, 50.0, 90.0, None]),
            "CloseDate": (date(2024, 1, 1) + timedelta(days=rnd.randint(0, 500))).isoformat(),
            "IsWon": stage == "Closed Won",
            "CreatedDate": sf_datetime(base + timedelta(days=rnd.randint(0, 400))),
        })
    return {"Account": acc, "Contact": con, "Opportunity": opp}
