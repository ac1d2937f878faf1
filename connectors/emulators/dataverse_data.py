"""Seeded Dataverse tables for the emulator: attribute metadata and rows.

Rows are stored as the Web API renders them (CRM-PROTOCOLS 3.5): choices as ints,
multi-select choices as ``"1,9"`` strings, lookups as ``_x_value`` GUIDs, ``Z``
datetimes, money as JSON numbers.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

# logical name -> (entity set, primary id, alternate key, [(attribute, AttributeType, AttributeTypeName)])
ENTITIES: dict[str, tuple[str, str, str | None, list[tuple[str, str, str]]]] = {
    "account": ("accounts", "accountid", "accountnumber", [
        ("accountid", "Uniqueidentifier", "UniqueidentifierType"),
        ("name", "String", "StringType"),
        ("accountnumber", "String", "StringType"),
        ("revenue", "Money", "MoneyType"),
        ("numberofemployees", "Integer", "IntegerType"),
        ("industrycode", "Picklist", "PicklistType"),
        ("createdon", "DateTime", "DateTimeType"),
    ]),
    "contact": ("contacts", "contactid", "sample_externalid", [
        ("contactid", "Uniqueidentifier", "UniqueidentifierType"),
        ("fullname", "String", "StringType"),
        ("firstname", "String", "StringType"),
        ("lastname", "String", "StringType"),
        ("emailaddress1", "String", "StringType"),
        ("description", "Memo", "MemoType"),
        ("numberofchildren", "Integer", "IntegerType"),
        ("sample_visits", "BigInt", "BigIntType"),
        ("sample_score", "Double", "DoubleType"),
        ("creditlimit", "Money", "MoneyType"),
        ("sample_ratio", "Decimal", "DecimalType"),
        ("donotemail", "Boolean", "BooleanType"),
        ("gendercode", "Picklist", "PicklistType"),
        ("statecode", "State", "StateType"),
        ("statuscode", "Status", "StatusType"),
        ("sample_outdooractivities", "Virtual", "MultiSelectPicklistType"),
        ("parentcustomerid", "Lookup", "LookupType"),
        ("sample_externalid", "String", "StringType"),
        ("createdon", "DateTime", "DateTimeType"),
        ("modifiedon", "DateTime", "DateTimeType"),
    ]),
}
FIRST = ["Ada", "Bob", "Chloé", "dan", "Eve", "Finn", "Gia", "Hugo"]
LAST = ["Smith", "O'Brien", "Nguyen", "müller", "Garcia", "Ito"]


def column_name(attr: str, atype: str) -> str:
    """The property name a collection uses: lookups appear as ``_x_value``."""
    return f"_{attr}_value" if atype in ("Lookup", "Customer", "Owner") else attr


def z(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata(logical: str) -> dict[str, Any]:
    entity_set, pk, _alt, attrs = ENTITIES[logical]
    return {
        "LogicalName": logical, "EntitySetName": entity_set, "PrimaryIdAttribute": pk,
        "MetadataId": str(uuid.uuid5(uuid.NAMESPACE_URL, logical)),
        "Attributes": [
            {"LogicalName": a, "AttributeType": t, "AttributeTypeName": {"Value": tn},
             "IsValidForRead": True, "AttributeOf": None, "IsPrimaryId": a == pk}
            for a, t, tn in attrs
        ],
    }


def _guid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def seed(contacts: int = 120, accounts: int = 10, seed_value: int = 11) -> dict[str, list[dict[str, Any]]]:
    rnd = random.Random(seed_value)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    accs = []
    for i in range(1, accounts + 1):
        accs.append({
            "accountid": _guid(rnd), "name": f"Account {i:02d}", "accountnumber": f"AC-{i:03d}",
            "revenue": None if i % 4 == 0 else round(rnd.uniform(1e4, 1e7), 4),
            "numberofemployees": rnd.choice([None, rnd.randint(1, 5000)]),
            "industrycode": rnd.choice([None, 1, 2, 3, 7]),
            "createdon": z(base + timedelta(days=i, seconds=rnd.randint(0, 86399))),
        })
    cons = []
    for i in range(1, contacts + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        created = base + timedelta(days=rnd.randint(0, 600), seconds=rnd.randint(0, 86399))
        acts = sorted(rnd.sample([1, 2, 5, 9], rnd.randint(0, 3)))
        cons.append({
            "contactid": _guid(rnd), "fullname": f"{first} {last}", "firstname": first if i % 10 else None,
            "lastname": last,
            "emailaddress1": None if i % 12 == 0 else (f"{first}.{last}{i}@Example.COM" if i % 3 == 0 else f"{first.lower()}{i}@example.com"),
            "description": None if i % 2 else f"note {i}",
            "numberofchildren": None if i % 5 == 0 else rnd.randint(0, 4),
            "sample_visits": None if i % 6 == 0 else rnd.randint(0, 10**10),
            "sample_score": None if i % 7 == 0 else round(rnd.uniform(0, 100), 3),
            "creditlimit": None if i % 4 == 0 else round(rnd.uniform(0, 50000), 2),
            "sample_ratio": None if i % 8 == 0 else round(rnd.uniform(0, 1), 6),
            "donotemail": rnd.random() < 0.3,
            "gendercode": rnd.choice([None, 1, 2]),
            "statecode": 0 if i % 9 else 1,
            "statuscode": 1 if i % 9 else 2,
            "sample_outdooractivities": ",".join(map(str, acts)) if acts else None,
            "_parentcustomerid_value": None if i % 7 == 3 else accs[rnd.randrange(accounts)]["accountid"],
            "sample_externalid": f"ext-{i}",
            "createdon": z(created),
            "modifiedon": z(created + timedelta(days=rnd.randint(0, 20))),
        })
    return {"account": accs, "contact": cons}
