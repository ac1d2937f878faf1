"""Pipedrive columns: the documented v2 record shape plus custom fields from metadata.

Standard fields come from the v2 shape (CRM-PROTOCOLS 5.4); custom fields live under
``custom_fields`` keyed by 40-character hashes, which ``/v1/{object}Fields`` maps to a
name and a ``field_type``. Each SQL column is a ``Spec`` saying where its value is
and how to read it:

- ``emails`` / ``phones`` arrays → ``email`` / ``phone`` (the primary value) and
  ``emails`` / ``phones`` (every value, list<string>);
- enum → ``<name>`` (option label) and ``<name>_id`` (option id); set → ``<name>``
  (labels) and ``<name>_ids``; monetary → ``<name>`` (value, float64) and
  ``<name>_currency``; daterange → ``<name>`` and ``<name>_until``;
- timestamps are RFC 3339 → timestamp[us, UTC]; dates → date32.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

OBJECTS = {"persons": "personFields", "organizations": "organizationFields", "deals": "dealFields"}
_HASH = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Spec:
    name: str  # SQL name
    key: str  # record key, or the custom field hash
    custom: bool
    read: str  # plain | primary | values | money | currency | label | labels | ids | start | end
    type_name: str  # string | int | float | bool | ts | date | list_str | list_int
    options: tuple[tuple[int, str], ...] = ()


def _std(name: str, t: str, key: str | None = None, read: str = "plain") -> Spec:
    return Spec(name, key or name, False, read, t)


_COMMON = [_std("id", "int"), _std("owner_id", "int"), _std("add_time", "ts"), _std("update_time", "ts"),
           _std("visible_to", "string"), _std("is_deleted", "bool")]
STANDARD: dict[str, list[Spec]] = {
    "persons": [_COMMON[0], _std("name", "string"), _std("first_name", "string"), _std("last_name", "string"),
                _std("email", "string", "emails", "primary"), _std("emails", "list_str", "emails", "values"),
                _std("phone", "string", "phones", "primary"), _std("phones", "list_str", "phones", "values"),
                *_COMMON[1:], _std("org_id", "int"), _std("label_ids", "list_int")],
    "organizations": [_COMMON[0], _std("name", "string"), *_COMMON[1:], _std("label_ids", "list_int")],
    "deals": [_COMMON[0], _std("title", "string"), _std("value", "float"), _std("currency", "string"), *_COMMON[1:],
              _std("person_id", "int"), _std("org_id", "int"), _std("stage_id", "int"), _std("pipeline_id", "int"),
              _std("status", "string"), _std("close_time", "ts"), _std("expected_close_date", "date"),
              _std("probability", "float")],
}


def arrow_type(type_name: str) -> pa.DataType:
    import pyarrow as pa

    return {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
            "ts": pa.timestamp("us", tz="UTC"), "date": pa.date32(), "list_str": pa.list_(pa.string()),
            "list_int": pa.list_(pa.int64())}[type_name]


def sql_name(label: str) -> str:
    """'Customer Tier' → 'customer_tier'."""
    return re.sub(r"[^0-9a-z]+", "_", label.lower()).strip("_") or "field"


def custom_specs(meta: list[dict[str, Any]], taken: set[str]) -> list[Spec]:
    """Specs of the custom fields (hash keys) in a ``*Fields`` answer."""
    out: list[Spec] = []
    for f in meta:
        key = str(f.get("key") or "")
        if not _HASH.fullmatch(key):
            continue
        base = sql_name(str(f.get("name") or key))
        while base in taken:
            base += "_custom"
        ftype = str(f.get("field_type") or "varchar")
        opts = tuple((int(o["id"]), str(o.get("label"))) for o in f.get("options") or [] if "id" in o)
        specs = _custom(base, key, ftype, opts)
        taken.update(s.name for s in specs)
        out.extend(specs)
    return out


def _custom(base: str, key: str, ftype: str, opts: tuple[tuple[int, str], ...]) -> list[Spec]:
    if ftype == "double":
        return [Spec(base, key, True, "plain", "float")]
    if ftype in ("user", "org", "people", "int"):
        return [Spec(base, key, True, "plain", "int")]
    if ftype == "monetary":
        return [Spec(base, key, True, "money", "float"), Spec(f"{base}_currency", key, True, "currency", "string")]
    if ftype == "enum":
        return [Spec(base, key, True, "label", "string", opts), Spec(f"{base}_id", key, True, "plain", "int")]
    if ftype == "set":
        return [Spec(base, key, True, "labels", "list_str", opts), Spec(f"{base}_ids", key, True, "ids", "list_int")]
    if ftype == "date":
        return [Spec(base, key, True, "plain", "date")]
    if ftype == "daterange":
        return [Spec(base, key, True, "start", "date"), Spec(f"{base}_until", key, True, "end", "date")]
    return [Spec(base, key, True, "plain", "string")]  # varchar, text, phone, address, time, ...


class DriftError(KeyError):
    """A record lacks a key discovery promised."""


def read(record: dict[str, Any], spec: Spec) -> Any:
    """The wire value of one column from one v2 record (raises DriftError when the key is gone)."""
    if spec.custom:
        bag = record.get("custom_fields")
        if not isinstance(bag, dict):
            raise DriftError("custom_fields")
        v = bag.get(spec.key)
    else:
        if spec.key not in record:
            raise DriftError(spec.key)
        v = record[spec.key]
    if v is None:
        return None
    r = spec.read
    if r == "primary":
        items = [x for x in v if isinstance(x, dict)]
        prim = next((x for x in items if x.get("primary")), items[0] if items else None)
        return prim.get("value") if prim else None
    if r == "values":
        return [x.get("value") for x in v if isinstance(x, dict) and x.get("value") is not None]
    if r in ("money", "currency"):
        return v.get("value" if r == "money" else "currency") if isinstance(v, dict) else (v if r == "money" else None)
    if r in ("label", "labels", "ids"):
        labels = dict(spec.options)
        ids = v if isinstance(v, list) else [v]
        ids = [int(x) for x in ids if x is not None and str(x).strip() != ""]
        if r == "ids":
            return ids
        return [labels.get(i, str(i)) for i in ids] if r == "labels" else (labels.get(ids[0], str(ids[0])) if ids else None)
    if r in ("start", "end"):
        if isinstance(v, dict):
            return v.get("start" if r == "start" else "end") or v.get("value" if r == "start" else "until")
        return v if r == "start" else None
    if spec.type_name == "string" and isinstance(v, dict):
        return v.get("value") or v.get("formatted_address")
    return v
