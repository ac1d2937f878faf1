"""Seeded Pipedrive persons, organizations and deals for the emulator (API v2 shapes).

Deterministic (``random.Random(seed)``). Records look like v2 answers (CRM-PROTOCOLS
5.4): integer ids, RFC 3339 UTC timestamps, ``emails``/``phones`` as arrays of
``{value, primary, label}``, custom fields under ``custom_fields`` keyed by 40-character
hashes (enum → option id, set → option ids, monetary → ``{value, currency}``, date →
``YYYY-MM-DD``). ``field_metadata`` renders the v1 ``*Fields`` answer.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime, timedelta, timezone
from typing import Any

OBJECTS = {"persons": "person", "organizations": "organization", "deals": "deal"}
FIELDS_PATH = {"persons": "personFields", "organizations": "organizationFields", "deals": "dealFields"}

# object -> [(name, field_type, options)]
CUSTOM: dict[str, list[tuple[str, str, list[dict[str, Any]] | None]]] = {
    "persons": [
        ("Customer Tier", "enum", [{"id": 1, "label": "Gold"}, {"id": 2, "label": "Silver"}, {"id": 3, "label": "Bronze"}]),
        ("Lifetime Value", "monetary", None),
        ("Birthday", "date", None),
        ("Interests", "set", [{"id": 10, "label": "Golf"}, {"id": 11, "label": "Hiking"}, {"id": 12, "label": "Sailing"}]),
        ("Loyalty Points", "double", None),
        ("Referral Code", "varchar", None),
    ],
    "organizations": [
        ("Segment", "enum", [{"id": 21, "label": "SMB"}, {"id": 22, "label": "Mid-market"}, {"id": 23, "label": "Enterprise"}]),
        ("Employee Count", "double", None),
    ],
    "deals": [("Campaign", "varchar", None)],
}
# standard fields as v1 metadata lists them: (key, name, field_type)
STANDARD: dict[str, list[tuple[str, str, str]]] = {
    "persons": [("id", "ID", "int"), ("name", "Name", "varchar"), ("first_name", "First name", "varchar"),
                ("last_name", "Last name", "varchar"), ("owner_id", "Owner", "user"), ("org_id", "Organization", "org"),
                ("email", "Email", "varchar"), ("phone", "Phone", "phone"), ("add_time", "Person created", "date"),
                ("update_time", "Update time", "date"), ("visible_to", "Visible to", "visible_to"),
                ("label_ids", "Labels", "set")],
    "organizations": [("id", "ID", "int"), ("name", "Name", "varchar"), ("owner_id", "Owner", "user"),
                      ("add_time", "Organization created", "date"), ("update_time", "Update time", "date"),
                      ("visible_to", "Visible to", "visible_to")],
    "deals": [("id", "ID", "int"), ("title", "Title", "varchar"), ("value", "Value", "monetary"),
              ("currency", "Currency", "varchar"), ("owner_id", "Owner", "user"), ("person_id", "Person", "people"),
              ("org_id", "Organization", "org"), ("stage_id", "Stage", "stage"), ("pipeline_id", "Pipeline", "double"),
              ("status", "Status", "status"), ("add_time", "Deal created", "date"), ("update_time", "Update time", "date"),
              ("close_time", "Deal closed on", "date"), ("expected_close_date", "Expected close date", "date"),
              ("probability", "Probability", "double")],
}


def field_key(obj: str, name: str) -> str:
    """The account's 40-character hash key of a custom field (stable per name)."""
    return hashlib.sha1(f"{obj}:{name}".encode()).hexdigest()


def field_metadata(obj: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, (key, name, ftype) in enumerate(STANDARD[obj]):
        out.append({"id": i + 1, "key": key, "name": name, "field_type": ftype, "edit_flag": False})
    for j, (name, ftype, options) in enumerate(CUSTOM[obj]):
        f: dict[str, Any] = {"id": 100 + j, "key": field_key(obj, name), "name": name, "field_type": ftype, "edit_flag": True}
        if options is not None:
            f["options"] = options
        out.append(f)
    return out


def rfc3339(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(persons: int = 300, organizations: int = 40, deals: int = 150, seed: int = 11) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def times() -> tuple[str, str]:
        add = base + timedelta(seconds=rng.randrange(0, 300 * 86400))
        return rfc3339(add), rfc3339(add + timedelta(seconds=rng.randrange(0, 60 * 86400)))

    orgs = []
    for i in range(1, organizations + 1):
        a, u = times()
        orgs.append({"id": i, "name": f"Org {i:02d}", "owner_id": rng.choice([1, 2, 3]), "add_time": a, "update_time": u,
                     "is_deleted": False, "visible_to": 3, "label_ids": [],
                     "custom_fields": {field_key("organizations", "Segment"): rng.choice([21, 22, 23, None]),
                                       field_key("organizations", "Employee Count"): rng.choice([None, float(rng.randrange(1, 900))])}})
    people = []
    first = ["Ana", "Ben", "Cleo", "dan", "Eli", "Fox", "Gia", "Hal"]
    last = ["Stone", "Reed", "Park", "Diaz", "Kim", "Nash"]
    for i in range(1, persons + 1):
        a, u = times()
        fn, ln = rng.choice(first), rng.choice(last)
        emails = [] if rng.random() < 0.1 else [{"value": f"{fn.lower()}.{i}@mail.test", "primary": True, "label": "work"}]
        if emails and rng.random() < 0.3:
            emails.append({"value": f"{fn.lower()}{i}@home.test", "primary": False, "label": "home"})
        phones = [] if rng.random() < 0.4 else [{"value": f"+44 20 7946 {rng.randrange(1000, 9999)}", "primary": True, "label": "mobile"}]
        ltv = None if rng.random() < 0.3 else {"value": round(rng.uniform(0, 5000), 2), "currency": rng.choice(["EUR", "USD"])}
        people.append({
            "id": i, "name": f"{fn} {ln}", "first_name": fn, "last_name": ln, "owner_id": rng.choice([1, 2, 3]),
            "org_id": rng.choice([None] + [o["id"] for o in orgs]) if orgs else None, "add_time": a, "update_time": u,
            "is_deleted": False, "visible_to": 3, "label_ids": rng.sample([5, 6, 7], rng.randrange(0, 3)),
            "emails": emails, "phones": phones,
            "custom_fields": {
                field_key("persons", "Customer Tier"): rng.choice([1, 2, 3, None]),
                field_key("persons", "Lifetime Value"): ltv,
                field_key("persons", "Birthday"): rng.choice([None, (date(1970, 1, 1) + timedelta(days=rng.randrange(0, 12000))).isoformat()]),
                field_key("persons", "Interests"): sorted(rng.sample([10, 11, 12], rng.randrange(0, 3))) or None,
                field_key("persons", "Loyalty Points"): rng.choice([None, round(rng.uniform(0, 1000), 1)]),
                field_key("persons", "Referral Code"): rng.choice([None, f"R{rng.randrange(100, 999)}"]),
            },
        })
    deal_rows = []
    for i in range(1, deals + 1):
        a, u = times()
        status = rng.choice(["open", "won", "lost"])
        deal_rows.append({
            "id": i, "title": f"Deal {i:03d}", "value": round(rng.uniform(100, 50000), 2), "currency": rng.choice(["EUR", "USD"]),
            "owner_id": rng.choice([1, 2, 3]), "person_id": rng.choice([None] + [p["id"] for p in people]) if people else None,
            "org_id": rng.choice([None] + [o["id"] for o in orgs]) if orgs else None, "stage_id": rng.randrange(1, 6),
            "pipeline_id": 1, "status": status, "add_time": a, "update_time": u,
            "close_time": None if status == "open" else u, "is_deleted": False, "visible_to": 3,
            "expected_close_date": rng.choice([None, (date(2024, 6, 1) + timedelta(days=rng.randrange(0, 300))).isoformat()]),
            "probability": rng.choice([None, 10, 50, 90]),
            "custom_fields": {field_key("deals", "Campaign"): rng.choice([None, "spring", "summer"])},
        })
    return {"persons": people, "organizations": orgs, "deals": deal_rows}
