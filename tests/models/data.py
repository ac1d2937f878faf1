"""Generated raw rows for the model tests: two sources with the awkward cases."""

from __future__ import annotations

import random
from typing import Any


def _variant(rng: random.Random, email: str) -> str:
    """The same address as a source might store it: case and whitespace noise."""
    pick = rng.random()
    if pick < 0.25:
        return email.upper()
    if pick < 0.45:
        return f"  {email} "
    if pick < 0.55:
        return email.capitalize()
    return email


def make_sources(n: int = 300, seed: int = 7) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """crm.contacts (unique per email) and shop.customers (duplicates per email)."""
    rng = random.Random(seed)
    emails = [f"user{i}@example.com" for i in range(n)]
    stages = ["lead", "customer", "evangelist", None]
    countries = ["FR", "DE", "US", "JP", None]
    contacts, customers = [], []
    for i, e in enumerate(emails):
        in_crm = rng.random() < 0.7
        in_shop = rng.random() < 0.7 or not in_crm
        if in_crm:
            contacts.append({
                "id": len(contacts) + 1, "email": _variant(rng, e), "lifecyclestage": rng.choice(stages),
                "phone": rng.choice([None, f"+33{i:06d}", f"+33{i + 1:06d}"]),
                "updatedat": rng.choice([None, 1000 + rng.randrange(100)]),
            })
        if in_shop:
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                customers.append({
                    "id": len(customers) + 1, "email": _variant(rng, e), "country": rng.choice(countries),
                    "ltv": rng.choice([None, round(rng.uniform(0, 500), 2)]),
                    "phone": rng.choice([None, f"+33{i:06d}", f"+44{i:06d}"]),
                    "updated_at": rng.choice([None, 1000 + rng.randrange(100), 1050]),
                })
    # records without a key, and one e-mail only in the CRM in upper case
    contacts.append({"id": len(contacts) + 1, "email": None, "lifecyclestage": "lead", "phone": "+1", "updatedat": 5})
    customers.append({"id": len(customers) + 1, "email": None, "country": "FR", "ltv": 1.0, "phone": None, "updated_at": 1})
    orders = [
        {"id": k + 1, "email": rng.choice(emails).upper(), "amount": round(rng.uniform(1, 99), 2),
         "created_at": 2000 + k}
        for k in range(n * 2)
    ]
    return {"crm": {"contacts": contacts}, "shop": {"customers": customers, "orders": orders}}


ENTITIES_YAML = """
customers:
  key: email
  merge:
    - from: crm.contacts
      fields: {email: "lower(trim(email))", lifecycle_stage: lifecyclestage, phone: phone}
      updated_at: updatedat
      unique: true
    - from: shop.customers
      fields: {email: "lower(trim(email))", country: country, lifetime_value: ltv, phone: phone}
      updated_at: updated_at
  survivorship:
    phone: {rule: most_recent}
  pii: [email, phone]
orders:
  from: shop.orders
  key: order_id
  fields: {order_id: id, customer_email: "lower(email)", amount: amount, ordered_at: created_at}
  relations:
    customer: {entity: customers, on: {customer_email: email}}
"""


STITCH_YAML = """
customers:
  key: email
  merge:
    - from: crm.contacts
      fields: {email: "lower(trim(email))", phone: phone, lifecycle_stage: lifecyclestage}
      updated_at: updatedat
    - from: shop.customers
      fields: {email: "lower(trim(email))", phone: phone, country: country}
      updated_at: updated_at
  identity: [email, phone]
  stitching: {max_records_per_identifier: 3, max_cluster_size: 50}
"""


def stitch_sources() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """A chain (a-email, shared phone, b-email...), a star on one phone, a hub phone, loners."""
    contacts = [
        # chain: c1 (a, p1) - s1 (a2?, p1) ... linked by phone then by email
        {"id": 1, "email": "A@x.com", "lifecyclestage": "lead", "phone": "p1", "updatedat": 1},
        {"id": 2, "email": "b@x.com", "lifecyclestage": "customer", "phone": "p2", "updatedat": 2},
        {"id": 3, "email": "c@x.com", "lifecyclestage": None, "phone": "HUB", "updatedat": 3},
        {"id": 4, "email": "d@x.com", "lifecyclestage": "lead", "phone": "HUB", "updatedat": 4},
        {"id": 5, "email": None, "lifecyclestage": "lead", "phone": "p9", "updatedat": 5},
        {"id": 6, "email": "", "lifecyclestage": "lead", "phone": None, "updatedat": 6},
    ]
    customers = [
        {"id": 1, "email": "a2@x.com", "country": "FR", "ltv": 1.0, "phone": "p1", "updated_at": 10},
        {"id": 2, "email": "a2@x.com", "country": "DE", "ltv": 2.0, "phone": "p2", "updated_at": 5},
        {"id": 3, "email": "e@x.com", "country": "US", "ltv": 3.0, "phone": "HUB", "updated_at": 1},
        {"id": 4, "email": "f@x.com", "country": "JP", "ltv": 4.0, "phone": "HUB", "updated_at": 1},
        {"id": 5, "email": " c@x.com", "country": "IT", "ltv": 5.0, "phone": None, "updated_at": 1},
        {"id": 6, "email": "g@x.com", "country": None, "ltv": 6.0, "phone": "p9", "updated_at": 1},
    ]
    return {"crm": {"contacts": contacts}, "shop": {"customers": customers}}
