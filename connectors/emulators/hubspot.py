"""A loopback emulator of the HubSpot CRM v3 API (see ../shared/CRM-PROTOCOLS.md §1).

Serves, for contacts / companies / deals:

- ``GET /crm/v3/objects/{type}``: ``limit`` (default 10, max ``list_max_limit``
  = 100, else 400), opaque ``after``, ``properties`` (unknown names ignored,
  requested-but-empty ones come back as null), ``associations``, ``archived``;
- ``POST /crm/v3/objects/{type}/search``: see ``search_match`` for the filter
  semantics; 400 ``VALIDATION_ERROR`` over the group/filter limits, for unknown
  properties, ``limit`` > 200, more than one sort, paging past ``search_cap``
  (10,000), and a ``query`` or ``filterGroups`` JSON over 3,000 characters;
- ``GET /crm/v3/properties/{type}``;
- writes: ``POST /crm/v3/objects/{type}/batch/upsert`` and the Lists API
  (``POST /crm/v3/lists``, lookup by name, ``PUT .../memberships/add|remove``,
  ``GET .../memberships``) — see ``hubspot_writes``.

The date-versioned paths (``/crm/objects/2026-03/...``, ``/crm/properties/2026-03/...``)
are aliases of the v3 ones.

Rate limits (configurable so tests run fast): search ``search_per_second`` (5)
per account → 429 with ``errorType: RATE_LIMIT``, ``policyName: SECONDLY`` and no
rate-limit headers; other calls ``burst_max`` (110) per ``burst_seconds`` (10) with
the ``X-HubSpot-RateLimit-*`` headers. Bearer auth: 401 with HubSpot's error body.

Run it: ``python -m connectors.emulators.hubspot --port 8711 --contacts 1000``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import threading
import uuid
from typing import Any

from connectors.emulators import hubspot_search as hs
from connectors.emulators.base import EmulatorBase, Reply, Request, WindowLimiter, serve_until_killed
from connectors.emulators.hubspot_data import DEFAULT_PROPERTIES, Store, generate

DEFAULT_TOKEN = "hubspot-emulator-token"
_DATED = re.compile(r"/crm/(objects|properties)/\d{4}-\d{2}/(.+)")


def error(status: int, category: str, message: str, **extra: Any) -> Reply:
    body = {"status": "error", "message": message, "correlationId": str(uuid.UUID(int=0)), "category": category}
    body.update(extra)
    return Reply(status, body)


class HubSpotEmulator(EmulatorBase):
    """HubSpot v3 over loopback. ``store`` holds the data; writes change it.

    Code that edits ``store`` directly must bump ``version`` (it keys the caches)."""

    def __init__(
        self,
        *,
        contacts: int = 200,
        seed: int = 0,
        token: str = DEFAULT_TOKEN,
        store: Store | None = None,
        search_per_second: int = 5,
        burst_max: int = 110,
        burst_seconds: float = 10.0,
        search_cap: int = 10_000,
        max_groups: int = 5,
        max_filters_per_group: int = 6,
        max_filters_total: int = 18,
        list_max_limit: int = 100,
        archived_every: int = 97,
        **kw: Any,
    ) -> None:
        super().__init__(seed=seed, **kw)
        self.token = token
        self.store = store if store is not None else generate(contacts=contacts, seed=seed, archived_every=archived_every)
        self.search_limiter = WindowLimiter(search_per_second, 1.0)
        self.burst_limiter = WindowLimiter(burst_max, burst_seconds)
        self.burst_max, self.burst_seconds = burst_max, burst_seconds
        self.search_cap = search_cap
        self.limits = hs.Limits(max_groups, max_filters_per_group, max_filters_total)
        self.list_max_limit = list_max_limit
        self.data_lock = threading.RLock()
        self.version = 0  # bumped by writes; keys the search cache
        self._cache: dict[str, list[int]] = {}
        self._cache_version = 0
        self._ids_key: tuple[str, bool, int] | None = None
        self._ids_cache: list[int] = []
        from connectors.emulators import hubspot_writes

        self.writes = hubspot_writes.Writes(self)
        obj = r"(?P<object_type>[a-z_0-9-]+)"
        self.routes = [
            ("GET", re.compile(rf"/crm/v3/objects/{obj}"), self.list_objects),
            ("POST", re.compile(rf"/crm/v3/objects/{obj}/search"), self.search),
            ("GET", re.compile(rf"/crm/v3/properties/{obj}"), self.properties),
            *self.writes.routes(),
        ]

    # -- data access for tests --------------------------------------------------
    def rows(self, object_type: str, archived: bool = False) -> list[dict[str, Any]]:
        """Wire records (as the list endpoint sends them, all properties) in id order."""
        with self.data_lock:
            recs = [r for r in self.store.records[object_type].values() if r["archived"] == archived]
            return [self.wire(object_type, r, list(self.store.props[object_type])) for r in recs]

    def wire(self, object_type: str, rec: dict[str, Any], props: list[str]) -> dict[str, Any]:
        known = self.store.props[object_type]
        out = {
            "id": str(rec["id"]),
            "properties": {p: rec["properties"].get(p) for p in props if p in known},
            "createdAt": rec["createdAt"],
            "updatedAt": rec["updatedAt"],
            "archived": rec["archived"],
        }
        if rec["archived"]:
            out["archivedAt"] = rec["updatedAt"]
        return out

    # -- auth and limits -----------------------------------------------------------
    def route(self, req: Request) -> Reply:
        if (m := _DATED.fullmatch(req.path)) is not None:  # /crm/objects/2026-03/... is an alias of /crm/v3/objects/...
            req = dataclasses.replace(req, path=f"/crm/v3/{m.group(1)}/{m.group(2)}")
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
            )
        is_search = req.method == "POST" and req.path.endswith("/search")
        if is_search:
            ok, _, _ = self.search_limiter.hit()
            if not ok:
                return self.rate_limited_reply(None, policy="SECONDLY")
            return super().route(req)
        ok, remaining, _ = self.burst_limiter.hit()
        if not ok:
            return self.rate_limited_reply(None, policy="TEN_SECONDLY_ROLLING")
        reply = super().route(req)
        reply.headers.update(
            {
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.burst_seconds * 1000)),
                "X-HubSpot-RateLimit-Max": str(self.burst_max),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
            }
        )
        return reply

    def rate_limited_reply(self, retry_after: str | float | None, policy: str = "SECONDLY") -> Reply:  # type: ignore[override]
        # https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines
        body = {
            "status": "error",
            "message": "You have reached your secondly limit." if policy == "SECONDLY" else "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.UUID(int=1)),
            "policyName": policy,
            "requestId": str(uuid.UUID(int=2)),
        }
        return Reply(429, body, {} if retry_after is None else {"Retry-After": str(retry_after)})

    def server_error_reply(self) -> Reply:
        return error(500, "INTERNAL_ERROR", "internal error (injected)")

    # -- endpoints -------------------------------------------------------------------
    def _object(self, object_type: str) -> Reply | None:
        if object_type not in self.store.records:
            return error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}")
        return None

    def properties(self, req: Request, object_type: str) -> Reply:
        if (bad := self._object(object_type)) is not None:
            return bad
        return Reply(200, {"results": [p.meta(object_type) for p in self.store.props[object_type].values()]})

    def list_objects(self, req: Request, object_type: str) -> Reply:
        if (bad := self._object(object_type)) is not None:
            return bad
        try:
            limit = int(req.arg("limit", "10") or 10)
            start = int(base64.urlsafe_b64decode((req.arg("after") or "").encode() + b"==").decode() or 0) if req.arg("after") else 0
        except ValueError:
            return error(400, "VALIDATION_ERROR", "Invalid limit or after.")
        if not 1 <= limit <= self.list_max_limit:
            return error(400, "VALIDATION_ERROR", f"limit must be between 1 and {self.list_max_limit}")
        props = _csv(req.query.get("properties")) or list(DEFAULT_PROPERTIES.get(object_type, ()))
        assocs = _csv(req.query.get("associations"))
        archived = (req.arg("archived") or "false").lower() == "true"
        with self.data_lock:
            ids = self._ids(object_type, archived)
            page = ids[start : start + limit]
            results = [self._with_assoc(object_type, self.store.records[object_type][i], props, assocs) for i in page]
        body: dict[str, Any] = {"results": results}
        if start + limit < len(ids):
            token = base64.urlsafe_b64encode(str(start + limit).encode()).decode().rstrip("=")
            body["paging"] = {"next": {"after": token, "link": f"?after={token}"}}
        return Reply(200, body)

    def _ids(self, object_type: str, archived: bool) -> list[int]:
        """Ids in list order, cached until the next write (pages must not rescan 100k records)."""
        key = (object_type, archived, self.version)
        if self._ids_key != key:
            self._ids_cache = [i for i, r in self.store.records[object_type].items() if r["archived"] == archived]
            self._ids_key = key
        return self._ids_cache

    def _with_assoc(self, object_type: str, rec: dict[str, Any], props: list[str], assocs: list[str]) -> dict[str, Any]:
        out = self.wire(object_type, rec, props)
        for to in assocs:
            ids = self.store.assoc.get((object_type, to), {}).get(rec["id"])
            if ids:
                kind = f"{object_type.rstrip('s')}_to_{to.rstrip('s')}".replace("companie", "company")
                out.setdefault("associations", {})[to] = {"results": [{"id": str(i), "type": kind} for i in ids]}
        return out

    def search(self, req: Request, object_type: str) -> Reply:
        if (bad := self._object(object_type)) is not None:
            return bad
        body = req.body if isinstance(req.body, dict) else {}
        known = self.store.props[object_type]
        try:
            q = hs.parse_request(body, known, self.limits)
        except hs.SearchError as e:
            return error(400, "VALIDATION_ERROR", str(e))
        if q.after + q.limit > self.search_cap:
            return error(400, "VALIDATION_ERROR", f"paging beyond {self.search_cap} results is not supported")
        key = json.dumps([object_type, body.get("filterGroups"), body.get("sorts"), body.get("query")], sort_keys=True)
        with self.data_lock:
            if self._cache_version != self.version or len(self._cache) > 64:
                self._cache, self._cache_version = {}, self.version
            ids = self._cache.get(key)
            if ids is None:  # later pages of the same query reuse the matching ids
                ids = self._cache[key] = hs.run(q, self.store.records[object_type], known, object_type)
            props = q.properties or list(DEFAULT_PROPERTIES.get(object_type, ()))
            page = ids[q.after : q.after + q.limit]
            results = [self.wire(object_type, self.store.records[object_type][i], props) for i in page]
        out: dict[str, Any] = {"total": len(ids), "results": results}
        if q.after + q.limit < len(ids):
            out["paging"] = {"next": {"after": str(q.after + q.limit)}}
        return Reply(200, out)


def _csv(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or () for v in item.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> None:
    import argparse
    import os

    ap = argparse.ArgumentParser(description="HubSpot CRM v3 emulator on loopback (tests and demos)")
    ap.add_argument("--port", type=int, default=8711)
    ap.add_argument("--contacts", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--token", default=os.environ.get("HUBSPOT_TOKEN", DEFAULT_TOKEN), help="accepted Bearer token (default: $HUBSPOT_TOKEN)")
    ap.add_argument("--search-per-second", type=int, default=5)
    args = ap.parse_args(argv)
    emu = HubSpotEmulator(contacts=args.contacts, seed=args.seed, token=args.token, port=args.port, search_per_second=args.search_per_second)
    serve_until_killed(emu)


if __name__ == "__main__":
    main()
