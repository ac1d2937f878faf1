"""HubSpot destination: contacts batch upsert (≤100 per request) and list membership.

- upsert: ``POST /crm/v3/objects/{object}/batch/upsert`` with
  ``{"inputs": [{"id": key, "idProperty": id_property, "properties": {...}}]}``;
  a 207 answer's ``errors`` (``context.id``) fail those records only; the record
  ids in ``results`` are kept in the sync state (for list removal later);
- ``list: NAME``: a MANUAL list found by name (``GET /crm/v3/lists/object-type-id/
  0-1/name/NAME``) or created; upserted records are added with ``PUT
  /crm/v3/lists/{id}/memberships/add``; in ``mirror`` mode records that left the
  audience are removed with ``.../memberships/remove`` (only ids this audience
  upserted; HubSpot records are never deleted).

Options: ``base_url``, ``token_env`` (environment variable with the private-app
token), or ``source`` (a declared hubspot source whose base_url and token are used), ``object`` (``contacts``), ``id_property`` (``email``), ``list``,
``rate_limit`` (requests per second, default 10), ``retry_budget``.
Null values are sent as ``""``, which HubSpot reads as "clear the property".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from connectors.destinations.base import Batch, BatchRejected, BatchResult, Destination, Mode, env_secret, json_safe
from federation.errors import UserError

OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}


class HubSpotDestination(Destination):
    type = "hubspot"
    max_batch = 100  # HubSpot's batch limit

    def __init__(self, options: dict[str, Any], audience: str, key: str) -> None:
        from connectors.crm.http import CrmHttp

        self.audience, self.key = audience, key
        self.object = str(options.get("object") or "contacts")
        self.id_property = str(options.get("id_property") or "email")
        self.list_name = options.get("list")
        base = str(options.get("base_url") or "https://api.hubapi.com")
        token = options.get("_token") or env_secret(options.get("token_env") or "HUBSPOT_TOKEN", "a token",
                                                    f"hubspot of audience {audience}")
        self.http = CrmHttp(f"hubspot:{audience}", "hubspot", base,
                            headers=lambda: {"Authorization": f"Bearer {token}"}, credential=token,
                            rates={"default": float(options.get("rate_limit", 10.0))},
                            retry_budget=float(options.get("retry_budget", 60.0)))
        self._list_id: str | None = None

    def open(self, mode: Mode) -> None:
        super().open(mode)
        if mode == "mirror" and not self.list_name:
            raise UserError(f"audience {self.audience}: mirror mode to HubSpot needs `list:` in the destination",
                            hint="Records are never deleted from HubSpot; mirror removes them from the audience's list.")

    def _norm(self, value: Any) -> str:
        text = "" if value is None else str(value)
        return text.strip().lower() if self.id_property == "email" else text

    def send(self, batch: Batch) -> BatchResult:
        if batch.op == "delete":
            return self._remove(batch)
        inputs = [{"id": k, "idProperty": self.id_property,
                   "properties": {n: ("" if v is None else str(v)) for n, v in json_safe(r).items()}}
                  for k, r in zip(batch.keys, batch.rows)]
        resp = self.http.request("POST", f"/crm/v3/objects/{self.object}/batch/upsert", json={"inputs": inputs},
                                 ok=(200, 201, 207, 400))
        if resp.status == 400:
            raise BatchRejected("HubSpot answered 400" + _category(resp.data))
        data = resp.data or {}
        failed: dict[str, str] = {}
        for err in data.get("errors") or []:
            for k in (err.get("context") or {}).get("id") or []:
                failed[str(k)] = f"HubSpot {err.get('category', 'error')}: {str(err.get('message', ''))[:200]}"
        by_norm = {self._norm(k): k for k in batch.keys}
        ok: dict[str, str | None] = {}
        for res in data.get("results") or []:
            key = by_norm.get(self._norm((res.get("properties") or {}).get(self.id_property)))
            if key is None and str(res.get("id")) in by_norm:
                key = by_norm[str(res.get("id"))]
            if key is not None and key not in failed:
                ok[key] = str(res.get("id"))
        for k in batch.keys:
            if k not in ok and k not in failed:
                ok[k] = None
        if self.list_name and ok:
            ids = [r for r in ok.values() if r]
            if ids:
                self.http.request("PUT", f"/crm/v3/lists/{self._ensure_list()}/memberships/add", json=ids)
        return BatchResult(ok=ok, failed=failed)

    def _remove(self, batch: Batch) -> BatchResult:
        ids = [r for r in batch.refs if r]
        if ids:
            self.http.request("PUT", f"/crm/v3/lists/{self._ensure_list()}/memberships/remove", json=ids)
        return BatchResult(ok={k: r for k, r in zip(batch.keys, batch.refs)})

    def _ensure_list(self) -> str:
        if self._list_id is None:
            type_id = OBJECT_TYPE_IDS.get(self.object, "0-1")
            name = str(self.list_name)
            resp = self.http.request("GET", f"/crm/v3/lists/object-type-id/{type_id}/name/{quote(name, safe='')}",
                                     ok=(200, 404))
            if resp.status == 404:
                resp = self.http.request("POST", "/crm/v3/lists",
                                         json={"name": name, "objectTypeId": type_id, "processingType": "MANUAL"})
            self._list_id = str(resp.data["list"]["listId"])
        return self._list_id

    def stats(self) -> dict[str, int]:
        s = self.http.stats.snapshot()
        return {"requests": s["requests"], "retries": s["retries"]}

    def finish(self, ok: bool) -> list[tuple[Batch, BatchResult]]:
        self.http.close()
        return []


def _category(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("category"), str):
        return f" ({data['category']})"
    return ""
