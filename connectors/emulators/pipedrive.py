"""A loopback Pipedrive emulator: API v2 lists, v1 fields metadata and v1 filters.

Reproduces CRM-PROTOCOLS section 5: ``GET /api/v2/{persons,organizations,deals}``
with ``ids`` (≤100), ``owner_id``, ``org_id``, ``deal_id`` (persons), ``person_id``,
``stage_id``, ``pipeline_id``, ``status`` (deals), ``updated_since`` (≥) and
``updated_until`` (<), ``sort_by`` ∈ {id, update_time, add_time}, ``sort_direction``,
``custom_fields`` (≤15 keys), ``limit`` (default 100, ≤500), an opaque ``cursor`` and
``next_cursor: null`` at the end; ``filter_id`` overrides owner/org/deal/ids.
``/api/v2/{object}/search`` (term length rules, ``exact_match``, its own 10 requests
per 2 s window), ``/v1/{person,organization,deal}Fields`` (start/limit paging), ``/v1/filters`` CRUD
with the documented glue validation (so tests can assert a connector never calls it).
Envelopes ``{success, data, additional_data}`` and ``{success: false, error,
error_info, errorCode}``; ``x-api-token`` (or ``api_token=``) auth; 429 from a rolling
2-second burst window and from a daily token budget with per-endpoint costs, and the
``x-ratelimit-*`` headers on every answer.

``python -m connectors.emulators.pipedrive --port N``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime
from typing import Any

from connectors.emulators import pipedrive_data as data
from connectors.emulators.base import EmulatorBase, Reply, Request, WindowLimiter, serve_until_killed

SORTABLE = ("id", "update_time", "add_time")
PARAMS = {"persons": ("owner_id", "org_id", "deal_id"), "organizations": ("owner_id",),
          "deals": ("owner_id", "person_id", "org_id", "stage_id", "pipeline_id", "status")}
COSTS = {"v2_list": 10, "v2_search": 20, "v1_list": 20, "v1_get": 2, "v1_write": 10}
FILTER_TYPES = {"people": "persons", "org": "organizations", "deals": "deals"}
OPERATORS = ("IS NOT NULL", "IS NULL", "<=", ">=", "<", ">", "!=", "=", "LIKE '$%'", "LIKE '%$%'", "NOT LIKE '$%'")


def _err(status: int, error: str, info: str = "Please check developers.pipedrive.com") -> Reply:
    return Reply(status, {"success": False, "error": error, "error_info": info, "errorCode": status, "data": None,
                          "additional_data": None})


def _ts(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError("RFC 3339 needs an offset")
    return when


class PipedriveEmulator(EmulatorBase):
    def __init__(self, *, token: str = "pd-test-token", burst: int = 80, daily_tokens: int = 90_000,
                 persons: int = 300, burst_seconds: float = 2.0, **kw: Any) -> None:
        super().__init__(**kw)
        self.token = token
        self.burst = WindowLimiter(burst, burst_seconds)  # Pipedrive's window is 2 s; shorter in tests
        self.search_window = WindowLimiter(10, 2.0)  # search has its own, lower limit on every plan
        self.daily_tokens, self.tokens_used = daily_tokens, 0
        self.records = data.seed(persons=persons)
        self.filters: dict[int, dict[str, Any]] = {}

    # -- vendor error bodies -----------------------------------------------------------
    def rate_limited_reply(self, retry_after: str | float | None) -> Reply:
        r = _err(429, "Rate limit has been exceeded", "Please wait before sending more requests")
        if retry_after is not None:
            r.headers["Retry-After"] = str(retry_after)
        return r

    def server_error_reply(self) -> Reply:
        return _err(500, "Internal server error (injected)")

    # -- dispatch --------------------------------------------------------------------------
    def route(self, req: Request) -> Reply:
        token = req.headers.get("x-api-token") or req.arg("api_token")
        if token != self.token:
            return _err(401, "unauthorized access", "Check the API token")
        allowed, remaining, reset = self.burst.hit()
        headers = {"x-ratelimit-limit": str(self.burst.limit), "x-ratelimit-remaining": str(remaining),
                   "x-ratelimit-reset": str(max(1, round(reset)) if not allowed else 2)}
        if not allowed:
            r = _err(429, "Rate limit has been exceeded", "Too many requests in the last 2 seconds")
            r.headers.update(headers)
            return r
        reply = self._dispatch(req)
        reply.headers.update(headers)
        reply.headers["x-daily-ratelimit-token-remaining"] = str(max(0, self.daily_tokens - self.tokens_used))
        return reply

    def _charge(self, kind: str) -> Reply | None:
        with self._lock:
            if self.tokens_used + COSTS[kind] > self.daily_tokens:
                return _err(429, "Rate limit has been exceeded", "The daily token budget is spent")
            self.tokens_used += COSTS[kind]
        return None

    def _dispatch(self, req: Request) -> Reply:
        m = re.fullmatch(r"/api/v2/(persons|organizations|deals)/search", req.path)
        if m and req.method == "GET":
            if not self.search_window.hit()[0]:
                return _err(429, "Rate limit has been exceeded", "Search allows 10 requests per 2 seconds")
            return self._charge("v2_search") or self._search(m.group(1), req)
        m = re.fullmatch(r"/api/v2/(persons|organizations|deals)", req.path)
        if m and req.method == "GET":
            return self._charge("v2_list") or self._list(m.group(1), req)
        m = re.fullmatch(r"/(?:api/)?v1/(personFields|organizationFields|dealFields)", req.path)
        if m and req.method == "GET":
            obj = {v: k for k, v in data.FIELDS_PATH.items()}[m.group(1)]
            return self._charge("v1_list") or self._fields(obj, req)
        if req.path.startswith("/v1/filters") or req.path.startswith("/api/v1/filters"):
            return self._filters(req)
        return _err(404, "Requested service is not available")

    # -- metadata ------------------------------------------------------------------------------
    def _fields(self, obj: str, req: Request) -> Reply:
        rows = data.field_metadata(obj)
        start, limit = int(req.arg("start") or 0), min(int(req.arg("limit") or 100), 500)
        page = rows[start: start + limit]
        more = start + limit < len(rows)
        return Reply(200, {"success": True, "data": page, "additional_data": {"pagination": {
            "start": start, "limit": limit, "more_items_in_collection": more, **({"next_start": start + limit} if more else {})}}})

    # -- v2 lists --------------------------------------------------------------------------------
    def _list(self, obj: str, req: Request) -> Reply:
        try:
            limit = int(req.arg("limit") or 100)
            if not 1 <= limit <= 500:
                raise ValueError
        except ValueError:
            return _err(400, "Invalid limit", "limit must be an integer from 1 to 500")
        sort_by, direction = req.arg("sort_by") or "id", req.arg("sort_direction") or "asc"
        if sort_by not in SORTABLE or direction not in ("asc", "desc"):
            return _err(400, "Invalid sort", f"sort_by must be one of {', '.join(SORTABLE)}; sort_direction asc or desc")
        try:
            rows = self._select(obj, req)
        except ValueError as e:
            return _err(400, str(e))
        rows = sorted(rows, key=lambda r: (r.get(sort_by) is None, r.get(sort_by) or "", r["id"]), reverse=direction == "desc")
        start = 0
        if req.arg("cursor"):
            try:
                start = int(json.loads(base64.urlsafe_b64decode(req.arg("cursor") or "").decode())["offset"])
            except (ValueError, KeyError, TypeError):
                return _err(400, "Invalid cursor")
        page = rows[start: start + limit]
        nxt = None
        if start + limit < len(rows):
            nxt = base64.urlsafe_b64encode(json.dumps({"offset": start + limit, "t": int(time.time())}).encode()).decode()
        keep = [k for k in (req.arg("custom_fields") or "").split(",") if k]
        if len(keep) > 15:
            return _err(400, "Too many custom fields", "A maximum of 15 keys is allowed")
        out = [self._render(r, keep) for r in page]
        return Reply(200, {"success": True, "data": out, "additional_data": {"next_cursor": nxt}})

    @staticmethod
    def _render(r: dict[str, Any], keep: list[str]) -> dict[str, Any]:
        out = dict(r)
        if keep:
            out["custom_fields"] = {k: v for k, v in r.get("custom_fields", {}).items() if k in keep}
        return out

    def _select(self, obj: str, req: Request) -> list[dict[str, Any]]:
        rows = [r for r in self.records[obj] if not r.get("is_deleted")]
        fid = req.arg("filter_id")
        if fid:
            f = self.filters.get(int(fid))
            if f is None or FILTER_TYPES.get(f["type"]) != obj:
                raise ValueError("Filter not found")
            rows = [r for r in rows if _filter_match(f["conditions"], r, obj)]
        else:  # filter_id overrides the fixed parameters
            if req.arg("ids"):
                ids = [int(x) for x in (req.arg("ids") or "").split(",") if x.strip()]
                if len(ids) > 100:
                    raise ValueError("ids: a maximum of 100 ids is allowed")
                rows = [r for r in rows if r["id"] in ids]
            for p in PARAMS[obj]:
                v = req.arg(p)
                if v is None or v == "":
                    continue
                if p == "deal_id":
                    linked = {d["person_id"] for d in self.records["deals"] if str(d["id"]) == v}
                    rows = [r for r in rows if r["id"] in linked]
                else:
                    rows = [r for r in rows if str(r.get(p)) == v]
        since, until = req.arg("updated_since"), req.arg("updated_until")
        if since:
            t = _ts(since)
            rows = [r for r in rows if r.get("update_time") and _ts(r["update_time"]) >= t]
        if until:
            t = _ts(until)
            rows = [r for r in rows if r.get("update_time") and _ts(r["update_time"]) < t]
        return rows

    # -- search ---------------------------------------------------------------------------------------
    def _search(self, obj: str, req: Request) -> Reply:
        term, exact = (req.arg("term") or "").strip(), req.arg("exact_match") == "true"
        if len(term) < (1 if exact else 2):
            return _err(400, "term must be at least 2 characters long (1 with exact_match)")
        fields = [f for f in (req.arg("fields") or "name,email,phone,custom_fields").split(",") if f]
        want = term.lower()  # exact_match "is not case sensitive"
        hits = []
        for r in self.records[obj]:
            texts = []
            if "name" in fields:
                texts.append(str(r.get("name") or r.get("title") or ""))
            if "email" in fields:
                texts += [e["value"] for e in r.get("emails") or []]
            if "phone" in fields:
                texts += [p["value"] for p in r.get("phones") or []]
            if "custom_fields" in fields:
                texts += [str(v) for v in (r.get("custom_fields") or {}).values() if isinstance(v, (str, int, float))]
            if any((t.lower() == want) if exact else (want in t.lower()) for t in texts):
                hits.append({"result_score": 1.0, "item": {"id": r["id"], "type": data.OBJECTS[obj],
                                                           "name": r.get("name") or r.get("title")}})
        limit = min(int(req.arg("limit") or 100), 500)
        start = int(json.loads(base64.urlsafe_b64decode(req.arg("cursor")).decode())["offset"]) if req.arg("cursor") else 0
        nxt = None
        if start + limit < len(hits):
            nxt = base64.urlsafe_b64encode(json.dumps({"offset": start + limit}).encode()).decode()
        return Reply(200, {"success": True, "data": {"items": hits[start: start + limit]}, "additional_data": {"next_cursor": nxt}})

    # -- v1 filters (tests assert connectors never call these) ------------------------------------
    def _filters(self, req: Request) -> Reply:
        rest = req.path.split("/filters", 1)[1].strip("/")
        if rest == "helpers" and req.method == "GET":
            return self._charge("v1_get") or Reply(200, {"success": True, "data": {"operators": list(OPERATORS)}})
        if rest == "" and req.method == "GET":
            return self._charge("v1_list") or Reply(200, {"success": True, "data": list(self.filters.values())})
        if rest == "" and req.method == "POST":
            problem = _check_filter(req.body)
            if problem:
                return _err(400, problem)
            with self._lock:
                fid = max(self.filters, default=0) + 1
                self.filters[fid] = {"id": fid, "name": req.body["name"], "type": req.body["type"],
                                     "conditions": req.body["conditions"]}
            return self._charge("v1_write") or Reply(201, {"success": True, "data": self.filters[fid]})
        if rest.isdigit():
            fid = int(rest)
            if fid not in self.filters:
                return _err(404, "Filter not found")
            if req.method == "GET":
                return Reply(200, {"success": True, "data": self.filters[fid]})
            if req.method == "DELETE":
                del self.filters[fid]
                return Reply(200, {"success": True, "data": {"id": fid}})
        return _err(404, "Requested service is not available")


def _check_filter(body: Any) -> str | None:
    """The documented shape: one AND group holding an AND group and an OR group, ≤16 conditions."""
    if not isinstance(body, dict) or not body.get("name") or body.get("type") not in FILTER_TYPES:
        return "name and a valid type are required"
    top = body.get("conditions")
    if not isinstance(top, dict) or top.get("glue") != "and" or not isinstance(top.get("conditions"), list):
        return "conditions: the first level must be one group glued with 'and'"
    groups = top["conditions"]
    if len(groups) != 2 or [g.get("glue") for g in groups if isinstance(g, dict)] != ["and", "or"]:
        return "conditions: two second-level groups are required, glued 'and' then 'or'"
    conds = [c for g in groups for c in g.get("conditions") or []]
    if len(conds) > 16:
        return "conditions: a maximum of 16 conditions is allowed"
    for c in conds:
        if not isinstance(c, dict) or c.get("operator") not in OPERATORS or not c.get("field_id"):
            return "conditions: each needs field_id and a supported operator"
    return None


def _filter_match(top: dict[str, Any], r: dict[str, Any], obj: str) -> bool:
    meta = {str(f["id"]): f["key"] for f in data.field_metadata(obj)}
    and_g, or_g = top["conditions"]

    def ok(c: dict[str, Any]) -> bool:
        key = meta.get(str(c["field_id"]), "")
        v = r.get(key, (r.get("custom_fields") or {}).get(key))
        op, want = c["operator"], c.get("value")
        if op == "IS NULL":
            return v in (None, "", [])
        if op == "IS NOT NULL":
            return v not in (None, "", [])
        if v is None:
            return False
        if op.startswith("LIKE") or op.startswith("NOT LIKE"):
            s, w = str(v).lower(), str(want).lower()
            hit = s.startswith(w) if "'$%'" in op else w in s
            return hit != op.startswith("NOT")
        a, b = (float(v), float(want)) if isinstance(v, (int, float)) else (str(v), str(want))
        return {"=": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]

    return all(ok(c) for c in and_g.get("conditions") or []) and (
        not or_g.get("conditions") or any(ok(c) for c in or_g["conditions"]))


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Pipedrive API v2 emulator (loopback)")
    p.add_argument("--port", type=int, default=8715)
    p.add_argument("--token", default="pd-test-token")
    p.add_argument("--persons", type=int, default=300)
    args = p.parse_args(argv)
    serve_until_killed(PipedriveEmulator(token=args.token, persons=args.persons, port=args.port))


if __name__ == "__main__":
    main()
