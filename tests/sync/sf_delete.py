"""The Salesforce emulator plus sObject Collections delete, which mirror syncs use.

``DELETE /services/data/vXX.X/composite/sobjects?ids=001...,003...&allOrNone=false``
answers one result per id, in order: ``{"id", "success", "errors"}``; an id that
does not exist fails with ``ENTITY_IS_DELETED``; more than 200 ids is a 400
(``EXCEEDED_ID_LIMIT``), as documented for sObject Collections.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from connectors.emulators.salesforce import SalesforceApp, _err


class SalesforceAppWithDelete(SalesforceApp):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.deleted: list[str] = []

    def _api(self, method: str, version: str, rest: str, query: str, headers: dict[str, str], body: bytes | None) -> Any:
        if method == "DELETE" and rest.rstrip("/") == "/composite/sobjects":
            ids = [i for i in parse_qs(query).get("ids", [""])[0].split(",") if i]
            if not ids or len(ids) > 200:
                return _err(400, "EXCEEDED_ID_LIMIT", "between 1 and 200 ids are allowed")
            return 200, {}, [self._delete_one(i) for i in ids]
        return super()._api(method, version, rest, query, headers, body)

    def _delete_one(self, rid: str) -> dict[str, Any]:
        with self._lock:
            for rows in self.records.values():
                for i, r in enumerate(rows):
                    if r.get("Id") == rid:
                        del rows[i]
                        self.deleted.append(rid)
                        return {"id": rid, "success": True, "errors": []}
        return {"id": rid, "success": False,
                "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}
