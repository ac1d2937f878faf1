"""Seeded, deterministic CRM data for the HubSpot emulator.

Objects: contacts, companies, deals, with HubSpot-style property metadata
(``type``/``fieldType``/``options``) and wire values that are all strings or
null, as the real API sends them. Contacts carry what tests need: emails in
mixed case with stray whitespace, an enumeration (``lifecyclestage``), numbers,
a date, datetimes, a bool, a multi-select checkbox (``interests``, ``;``-joined),
NULLs, and an ``associatedcompanyid``. Associations: contact→company,
deal→contact, deal→company. Every ``archived_every``-th contact is archived.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}

LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other")
INTERESTS = ("sports", "music", "travel", "food", "tech")
INDUSTRIES = ("COMPUTER_SOFTWARE", "RETAIL", "BANKING", "HOSPITALITY", "EDUCATION")
DEALSTAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent", "closedwon", "closedlost")
FIRST = ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil")
LAST = ("Smith", "Jones", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas", "Johnson", "Roberts", "Walker", "Wright")
CITIES = ("Berlin", "Boston", "Dublin", "Lisbon", "Paris", "Tokyo", "new york", "São Paulo")
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Prop:
    name: str
    type: str  # bool, date, datetime, enumeration, number, phone_number, string
    field_type: str  # booleancheckbox, checkbox, date, number, radio, select, text, ...
    options: tuple[str, ...] = ()
    unique: bool = False

    def meta(self, object_type: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.name.replace("_", " ").title(),
            "type": self.type,
            "fieldType": self.field_type,
            "description": "",
            "groupName": f"{SINGULAR.get(object_type, object_type)}information",
            "options": [{"label": o, "value": o, "displayOrder": i, "hidden": False} for i, o in enumerate(self.options)],
            "hasUniqueValue": self.unique,
            "calculated": False,
            "hidden": False,
            "hubspotDefined": True,
            "archived": False,
            "formField": True,
        }


def _p(name: str, type_: str, field_type: str, options: tuple[str, ...] = (), unique: bool = False) -> Prop:
    return Prop(name, type_, field_type, options, unique)


_COMMON = (
    _p("hs_object_id", "number", "number", unique=True),
    _p("createdate", "datetime", "date"),
)
PROPERTIES: dict[str, tuple[Prop, ...]] = {
    "contacts": _COMMON
    + (
        _p("email", "string", "text", unique=True),
        _p("firstname", "string", "text"),
        _p("lastname", "string", "text"),
        _p("city", "string", "text"),
        _p("lifecyclestage", "enumeration", "radio", LIFECYCLE),
        _p("interests", "enumeration", "checkbox", INTERESTS),
        _p("hs_email_optout", "bool", "booleancheckbox", ("true", "false")),
        _p("hs_analytics_num_visits", "number", "number"),
        _p("annualrevenue", "number", "number"),
        _p("date_of_birth", "date", "date"),
        _p("notes_last_contacted", "datetime", "date"),
        _p("lastmodifieddate", "datetime", "date"),
        _p("associatedcompanyid", "number", "number"),
    ),
    "companies": _COMMON
    + (
        _p("name", "string", "text"),
        _p("domain", "string", "text", unique=True),
        _p("industry", "enumeration", "select", INDUSTRIES),
        _p("numberofemployees", "number", "number"),
        _p("annualrevenue", "number", "number"),
        _p("is_public", "bool", "booleancheckbox", ("true", "false")),
        _p("hs_lastmodifieddate", "datetime", "date"),
    ),
    "deals": _COMMON
    + (
        _p("dealname", "string", "text"),
        _p("amount", "number", "number"),
        _p("dealstage", "enumeration", "select", DEALSTAGES),
        _p("pipeline", "enumeration", "select", ("default",)),
        _p("closedate", "datetime", "date"),
        _p("hs_lastmodifieddate", "datetime", "date"),
    ),
}
DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage", "createdate", "hs_lastmodifieddate", "hs_object_id"),
}
SEARCHABLE = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain", "website", "phone"),
    "deals": ("dealname", "pipeline", "dealstage", "description", "dealtype"),
}
ID_BASE = {"contacts": 1000, "companies": 500_000, "deals": 800_000}


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class Store:
    """Records per object type: id -> {id, properties, createdAt, updatedAt, archived}."""

    props: dict[str, dict[str, Prop]] = field(default_factory=dict)
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    # (from, to) -> from id -> [to ids]
    assoc: dict[tuple[str, str], dict[int, list[int]]] = field(default_factory=dict)
    next_id: dict[str, int] = field(default_factory=dict)

    def new_record(self, object_type: str, properties: dict[str, str | None], when: dt.datetime, archived: bool = False) -> dict[str, Any]:
        rid = self.next_id[object_type]
        self.next_id[object_type] = rid + 1
        props = {name: None for name in self.props[object_type]}
        props.update(properties)
        props["hs_object_id"] = str(rid)
        props["createdate"] = props.get("createdate") or iso(when)
        stamp = iso(when)
        rec = {"id": rid, "properties": props, "createdAt": props["createdate"], "updatedAt": stamp, "archived": archived}
        self.records[object_type][rid] = rec
        return rec


def generate(contacts: int = 200, seed: int = 0, companies: int | None = None, deals: int | None = None, archived_every: int = 97) -> Store:
    """A deterministic store: the same arguments always give the same records."""
    rng = random.Random(seed)
    companies = max(1, contacts // 10) if companies is None else companies
    deals = contacts // 5 if deals is None else deals
    store = Store()
    for obj, props in PROPERTIES.items():
        store.props[obj] = {p.name: p for p in props}
        store.records[obj] = {}
        store.next_id[obj] = ID_BASE[obj]
    company_ids = [_company(store, rng, i)["id"] for i in range(companies)]
    contact_ids = [_contact(store, rng, i, company_ids, archived_every)["id"] for i in range(contacts)]
    for i in range(deals):
        _deal(store, rng, i, contact_ids, company_ids)
    return store


def _when(rng: random.Random, i: int) -> dt.datetime:
    # creation times rise with the id, like the real API's "oldest first" order
    return EPOCH + dt.timedelta(minutes=7 * i, seconds=rng.randrange(60), milliseconds=rng.randrange(1000))


def _maybe(rng: random.Random, p_null: float, value: Any) -> Any:
    return None if rng.random() < p_null else value


def _company(store: Store, rng: random.Random, i: int) -> dict[str, Any]:
    name = f"{rng.choice(LAST)} {rng.choice(('GmbH', 'Inc', 'Ltd', 'SA', 'Co'))} {i}"
    props = {
        "name": name,
        "domain": f"{name.split()[0].lower()}{i}.example.com",
        "industry": _maybe(rng, 0.1, rng.choice(INDUSTRIES)),
        "numberofemployees": _maybe(rng, 0.2, str(rng.randrange(1, 5000))),
        "annualrevenue": _maybe(rng, 0.3, f"{rng.randrange(10_000, 10_000_000)}.{rng.randrange(100):02d}"),
        "is_public": _maybe(rng, 0.2, rng.choice(("true", "false"))),
    }
    when = _when(rng, i)
    props["hs_lastmodifieddate"] = iso(when + dt.timedelta(days=rng.randrange(400)))
    return store.new_record("companies", props, when)


def _email(rng: random.Random, first: str, last: str, i: int) -> str:
    email = f"{first}.{last}{i}@{rng.choice(('example.com', 'Example.org', 'mail.test'))}"
    style = rng.random()
    if style < 0.5:
        email = email.lower()
    elif style < 0.6:
        email = email.upper()
    if rng.random() < 0.05:
        email = f" {email} "  # stray whitespace, as imported CRM data has
    return email


def _contact(store: Store, rng: random.Random, i: int, company_ids: list[int], archived_every: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    when = _when(rng, i)
    interests = [x for x in INTERESTS if rng.random() < 0.3]
    company = rng.choice(company_ids) if company_ids and rng.random() < 0.9 else None
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
    props = {
        "email": _maybe(rng, 0.03, _email(rng, first, last, i)),
        "firstname": _maybe(rng, 0.02, first),
        "lastname": _maybe(rng, 0.02, last),
        "city": _maybe(rng, 0.2, rng.choice(CITIES)),
        "lifecyclestage": _maybe(rng, 0.05, rng.choice(LIFECYCLE)),
        "interests": ";".join(interests) if interests else None,
        "hs_email_optout": _maybe(rng, 0.1, rng.choice(("true", "false"))),
        "hs_analytics_num_visits": _maybe(rng, 0.1, str(rng.randrange(0, 200))),
        "annualrevenue": _maybe(rng, 0.2, f"{rng.randrange(0, 1_000_000)}.{rng.randrange(100):02d}"),
        "date_of_birth": _maybe(rng, 0.3, born.isoformat()),
        "notes_last_contacted": _maybe(rng, 0.3, iso(when + dt.timedelta(hours=rng.randrange(1, 20000)))),
        "lastmodifieddate": iso(when + dt.timedelta(days=rng.randrange(1, 900))),
        "associatedcompanyid": None if company is None else str(company),
    }
    archived = archived_every > 0 and i % archived_every == archived_every - 1
    rec = store.new_record("contacts", props, when, archived=archived)
    if company is not None:
        store.assoc.setdefault(("contacts", "companies"), {})[rec["id"]] = [company]
        store.assoc.setdefault(("companies", "contacts"), {}).setdefault(company, []).append(rec["id"])
    return rec


def _deal(store: Store, rng: random.Random, i: int, contact_ids: list[int], company_ids: list[int]) -> None:
    when = _when(rng, i)
    props = {
        "dealname": f"Deal {i}",
        "amount": _maybe(rng, 0.1, str(rng.randrange(100, 100_000))),
        "dealstage": rng.choice(DEALSTAGES),
        "pipeline": "default",
        "closedate": _maybe(rng, 0.4, iso(when + dt.timedelta(days=rng.randrange(1, 200)))),
        "hs_lastmodifieddate": iso(when + dt.timedelta(days=rng.randrange(1, 300))),
    }
    rec = store.new_record("deals", props, when)
    if contact_ids:
        people = sorted(set(rng.choice(contact_ids) for _ in range(rng.randrange(1, 3))))
        store.assoc.setdefault(("deals", "contacts"), {})[rec["id"]] = people
        for c in people:
            store.assoc.setdefault(("contacts", "deals"), {}).setdefault(c, []).append(rec["id"])
    if company_ids:
        company = rng.choice(company_ids)
        store.assoc.setdefault(("deals", "companies"), {})[rec["id"]] = [company]
        store.assoc.setdefault(("companies", "deals"), {}).setdefault(company, []).append(rec["id"])
