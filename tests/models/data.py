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
