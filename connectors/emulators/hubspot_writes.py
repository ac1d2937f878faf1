"""Write endpoints of the HubSpot emulator (for reverse-ETL syncs; §1.6 and §1.8).

- ``POST /crm/v3/objects/{type}/batch/upsert``: ``{"inputs": [{"id", "idProperty"?,
  "properties"}]}``, at most ``max_batch`` (100) inputs (else 400). ``idProperty``
  must be a unique property (``email`` compares case-insensitively, trimmed, as
  HubSpot stores emails lower-cased); without it ``id`` is a record id, which
  must exist. Unknown properties, a non-number for a number, a value outside an
  enumeration's options, or a non-bool for a bool fail that input only:
  the reply is then 207 with ``errors`` and ``numErrors``; otherwise 200.
  Each result carries ``new`` (true when the record was created).
- Lists: ``POST /crm/v3/lists`` (``name``, ``objectTypeId``, ``processingType``
  MANUAL|DYNAMIC|SNAPSHOT; duplicate names → 400),
  ``GET /crm/v3/lists/object-type-id/{objectTypeId}/name/{name}`` (404 if absent),
  ``GET /crm/v3/lists/{id}``, ``PUT /crm/v3/lists/{id}/memberships/add`` and
  ``/remove`` (body: list of record ids; DYNAMIC lists → 400; unknown ids are
  reported in ``recordIdsMissing``; the response spells ``recordsIdsAdded`` as
  HubSpot does), ``GET /crm/v3/lists/{id}/memberships`` (``limit`` default 100,
  max 250, ``after`` cursor, ascending ``recordId``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from connectors.emulators.base import Reply, Request
from connectors.emulators.hubspot_data import OBJECT_TYPE_IDS, iso

if TYPE_CHECKING:
    from connectors.emulators.hubspot import HubSpotEmulator


def _err(status: int, message: str) -> Reply:
    from connectors.emulators.hubspot import error

    return error(status, "VALIDATION_ERROR", message)


class Writes:
    def __init__(self, emu: HubSpotEmulator, max_batch: int = 100) -> None:
        self.emu = emu
        self.max_batch = max_batch
        self.lists: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[int, str]] = {}  # list id -> record id -> membership timestamp
        self._next_list = 1

    def routes(self) -> list[tuple[str, re.Pattern[str], Any]]:
        obj = r"(?P<object_type>[a-z_0-9-]+)"
        lid = r"(?P<list_id>\d+)"
        return [
            ("POST", re.compile(rf"/crm/v3/objects/{obj}/batch/upsert"), self.upsert),
            ("POST", re.compile(r"/crm/v3/lists/?"), self.create_list),
            ("GET", re.compile(r"/crm/v3/lists/object-type-id/(?P<type_id>[^/]+)/name/(?P<name>[^/]+)"), self.list_by_name),
            ("GET", re.compile(rf"/crm/v3/lists/{lid}"), self.get_list),
            ("PUT", re.compile(rf"/crm/v3/lists/{lid}/memberships/(?P<action>add|remove)"), self.change_members),
            ("GET", re.compile(rf"/crm/v3/lists/{lid}/memberships"), self.read_members),
        ]

    # -- batch upsert ---------------------------------------------------------------
    def upsert(self, req: Request, object_type: str) -> Reply:
        emu = self.emu
        if object_type not in emu.store.records:
            return _err(400, f"Unable to infer object type from: {object_type}")
        inputs = (req.body or {}).get("inputs") if isinstance(req.body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            return _err(400, "inputs must be a non-empty list")
        if len(inputs) > self.max_batch:
            return _err(400, f"Too many inputs: {len(inputs)}, the maximum is {self.max_batch}")
        started = iso(dt.datetime.now(dt.timezone.utc))
        results, errors = [], []
        with emu.data_lock:
            for item in inputs:
                problem = self._validate(object_type, item)
                if problem:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR", "message": problem, "context": {"id": [str(item.get("id"))]}})
                    continue
                results.append(self._apply(object_type, item))
            emu.version += 1
        body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso(dt.datetime.now(dt.timezone.utc))}
        if errors:
            body.update(errors=errors, numErrors=len(errors))
            return Reply(207, body)
        return Reply(200, body)

    def _validate(self, object_type: str, item: Any) -> str | None:
        props = self.emu.store.props[object_type]
        if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("properties"), dict):
            return "each input needs id and properties"
        id_prop = item.get("idProperty")
        if id_prop is not None and (id_prop not in props or not props[id_prop].unique):
            return f"Property '{id_prop}' is not a unique property"
        if id_prop is None and self._find(object_type, None, str(item["id"])) is None:
            return f"Object {item['id']} does not exist"
        for name, value in item["properties"].items():
            p = props.get(name)
            if p is None:
                return f"Property '{name}' does not exist"
            if value is None or value == "":
                continue
            text = str(value)
            if p.type == "number":
                try:
                    float(text)
                except ValueError:
                    return f"Property '{name}' needs a number"
            elif p.type == "bool" and text.lower() not in ("true", "false"):
                return f"Property '{name}' needs true or false"
            elif p.type == "enumeration" and any(part not in p.options for part in text.split(";")):
                return f"Property '{name}' has no option for the value"
        return None

    def _find(self, object_type: str, id_prop: str | None, key: str) -> dict[str, Any] | None:
        records = self.emu.store.records[object_type]
        if id_prop is None or id_prop == "hs_object_id":
            rec = records.get(int(key)) if key.isdigit() else None
            return rec if rec is not None and not rec["archived"] else None
        norm = key.strip().lower() if id_prop == "email" else key
        for rec in records.values():
            v = rec["properties"].get(id_prop)
            if v is not None and not rec["archived"] and (v.strip().lower() if id_prop == "email" else v) == norm:
                return rec
        return None

    def _apply(self, object_type: str, item: dict[str, Any]) -> dict[str, Any]:
        id_prop = item.get("idProperty")
        key = str(item["id"])
        now = dt.datetime.now(dt.timezone.utc)
        values = {k: (None if v in (None, "") else str(v)) for k, v in item["properties"].items()}
        if id_prop == "email" and values.get("email"):
            values["email"] = values["email"].strip().lower()
        rec = self._find(object_type, id_prop, key)
        new = rec is None
        if rec is None:
            if id_prop and id_prop != "hs_object_id":
                values.setdefault(id_prop, key.strip().lower() if id_prop == "email" else key)
            rec = self.emu.store.new_record(object_type, values, now)
        else:
            rec["properties"].update(values)
            rec["updatedAt"] = iso(now)
        out = self.emu.wire(object_type, rec, list(values) + ["hs_object_id"])
        out["new"] = new
        return out

    # -- lists ----------------------------------------------------------------------------
    def create_list(self, req: Request) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        name, type_id = body.get("name"), body.get("objectTypeId")
        kind = body.get("processingType", "MANUAL")
        if not name or type_id not in OBJECT_TYPE_IDS.values() or kind not in ("MANUAL", "DYNAMIC", "SNAPSHOT"):
            return _err(400, "name, a known objectTypeId and a processingType are required")
        if any(lst["name"] == name and lst["objectTypeId"] == type_id for lst in self.lists.values()):
            return _err(400, f"A list named '{name}' already exists")
        lid = str(self._next_list)
        self._next_list += 1
        stamp = iso(dt.datetime.now(dt.timezone.utc))
        self.lists[lid] = {
            "listId": lid,
            "listVersion": 1,
            "name": name,
            "objectTypeId": type_id,
            "processingStatus": "COMPLETE",
            "processingType": kind,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.members[lid] = {}
        return Reply(200, {"list": dict(self.lists[lid])})

    def list_by_name(self, req: Request, type_id: str, name: str) -> Reply:
        from urllib.parse import unquote

        for lst in self.lists.values():
            if lst["name"] == unquote(name) and lst["objectTypeId"] == type_id:
                return Reply(200, {"list": dict(lst)})
        return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "List not found"})

    def get_list(self, req: Request, list_id: str) -> Reply:
        lst = self.lists.get(list_id)
        if lst is None:
            return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "List not found"})
        return Reply(200, {"list": dict(lst, size=len(self.members[list_id]))})

    def change_members(self, req: Request, list_id: str, action: str) -> Reply:
        lst = self.lists.get(list_id)
        if lst is None:
            return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "List not found"})
        if lst["processingType"] == "DYNAMIC":
            return _err(400, "Memberships of DYNAMIC lists cannot be changed")
        if not isinstance(req.body, list):
            return _err(400, "the body must be a list of record ids")
        obj = next(k for k, v in OBJECT_TYPE_IDS.items() if v == lst["objectTypeId"])
        members, stamp = self.members[list_id], iso(dt.datetime.now(dt.timezone.utc))
        changed, missing = [], []
        with self.emu.data_lock:
            for raw in req.body:
                rid = int(raw) if str(raw).isdigit() else None
                rec = self.emu.store.records[obj].get(rid) if rid is not None else None
                if rec is None or rec["archived"]:
                    missing.append(str(raw))
                elif action == "add" and rid not in members:
                    members[rid] = stamp  # type: ignore[index]
                    changed.append(str(rid))
                elif action == "remove" and rid in members:
                    del members[rid]  # type: ignore[arg-type]
                    changed.append(str(rid))
        added, removed = (changed, []) if action == "add" else ([], changed)
        return Reply(200, {"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing})

    def read_members(self, req: Request, list_id: str) -> Reply:
        if list_id not in self.lists:
            return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "List not found"})
        try:
            limit = int(req.arg("limit", "100") or 100)
            after = int(req.arg("after", "0") or 0)
        except ValueError:
            return _err(400, "limit and after must be integers")
        if not 1 <= limit <= 250:
            return _err(400, "limit must be between 1 and 250")
        ids = sorted(self.members[list_id])
        page = [i for i in ids if i > after][:limit]
        body: dict[str, Any] = {
            "results": [{"recordId": str(i), "membershipTimestamp": self.members[list_id][i]} for i in page],
            "total": len(ids),
        }
        if page and page[-1] != ids[-1]:
            body["paging"] = {"next": {"after": str(page[-1])}}
        return Reply(200, body)
