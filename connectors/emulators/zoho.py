"""A loopback Zoho CRM v7 emulator: COQL, records list, fields metadata, upsert, OAuth.

Reproduces CRM-PROTOCOLS section 4: ``POST /crm/v7/coql`` (``select_query``; WHERE
required unless ``require_where`` is off; strict pairwise brackets; 25 criteria; IN
≤100; LIMIT default 200, at most ``max_limit`` (2000); OFFSET or ``LIMIT o, n``; at
most ``max_rows`` (100,000) reachable through OFFSET; 204 on an empty result; errors
``{code, details, message, status: "error"}``), ``GET /crm/v7/{Module}`` (``fields``
required, ``per_page`` ≤200, ``page_token`` past 2,000 rows), ``GET
/crm/v7/settings/fields?module=``, ``POST /crm/v7/{Module}/upsert`` (≤100 records),
``POST /oauth/v2/token`` (refresh-token grant), ``Authorization: Zoho-oauthtoken``,
a credit counter (COQL costs 1/2/3 credits by LIMIT) and 429s for spent credits
(``LIMIT_REACHED``) or too many concurrent calls (``TOO_MANY_REQUESTS``).

``python -m connectors.emulators.zoho --port N``.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from connectors.emulators import zoho_data as data
from connectors.emulators.base import EmulatorBase, Reply, Request, serve_until_killed
from connectors.emulators.coql_eval import aggregate, compile_where, order, resolve
from connectors.emulators.coql_parser import CoqlError, parse


def _err(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Reply:
    return Reply(status, {"code": code, "details": details or {}, "message": message, "status": "error"})


class ZohoEmulator(EmulatorBase):
    """The org and its switches; tests read ``credits_used`` and the request log."""

    def __init__(self, *, token: str = "zoho-test-token", client_id: str = "zcid", client_secret: str = "zsecret",
                 refresh_token: str = "zrefresh", max_limit: int = 2000, max_rows: int = 100_000,
                 require_where: bool = True, credits: int | None = None, concurrency: int | None = None,
                 contacts: int = 250, null_matches_negation: bool = True, **kw: Any) -> None:
        super().__init__(**kw)
        self.token = token
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.max_limit, self.max_rows = max_limit, max_rows
        self.require_where = require_where
        self.credits, self.credits_used = credits, 0
        self.concurrency, self._inflight = concurrency, 0
        self.latency = 0.0  # seconds each API call holds its concurrency slot
        self.null_matches_negation = null_matches_negation
        self.schemas = {k: dict(v) for k, v in data.SCHEMAS.items()}
        self.records = data.seed(contacts=contacts)
        self._tokens: dict[str, int] = {}

    # -- switches --------------------------------------------------------------
    def expire_token(self) -> None:
        """The current access token stops working (a refresh grant issues a new one)."""
        self.token = "expired-" + uuid.uuid4().hex

    def rename_api_field(self, module: str, old: str, new: str) -> None:
        """Schema drift: a field is renamed in the org (metadata and records)."""
        self.schemas[module] = {(new if k == old else k): v for k, v in self.schemas[module].items()}
        for r in self.records[module]:
            r[new] = r.pop(old, None)

    # -- vendor error bodies ---------------------------------------------------------
    def rate_limited_reply(self, retry_after: str | float | None) -> Reply:
        r = _err(429, "TOO_MANY_REQUESTS", "too many requests (injected)")
        if retry_after is not None:
            r.headers["Retry-After"] = str(retry_after)
        return r

    def server_error_reply(self) -> Reply:
        return _err(500, "INTERNAL_ERROR", "Internal Server Error (injected)")

    # -- dispatch ----------------------------------------------------------------------
    def route(self, req: Request) -> Reply:
        if req.path == "/oauth/v2/token" and req.method == "POST":
            return self._oauth(req)
        if not req.path.startswith("/crm/v7/"):
            return _err(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
        if req.headers.get("authorization") != f"Zoho-oauthtoken {self.token}":
            return _err(401, "INVALID_TOKEN", "invalid oauth token")
        with self._lock:
            if self.concurrency is not None and self._inflight >= self.concurrency:
                return _err(429, "TOO_MANY_REQUESTS", "concurrency limit exceeded")
            self._inflight += 1
        try:
            if self.latency:
                time.sleep(self.latency)
            return self._api(req)
        except CoqlError as e:
            return _err(400, e.code, e.message, e.details)
        finally:
            with self._lock:
                self._inflight -= 1

    def _charge(self, n: int) -> Reply | None:
        with self._lock:
            if self.credits is not None and self.credits_used + n > self.credits:
                return _err(429, "LIMIT_REACHED", "API credits exhausted for the day")
            self.credits_used += n
        return None

    def _api(self, req: Request) -> Reply:
        rest = req.path[len("/crm/v7/"):].strip("/")
        if rest == "coql" and req.method == "POST":
            return self._coql(req.body)
        if rest == "settings/fields" and req.method == "GET":
            return self._charge(1) or self._fields(req.arg("module") or "")
        if rest.endswith("/upsert") and req.method == "POST":
            return self._charge(1) or self._upsert(rest[: -len("/upsert")], req.body)
        if "/" not in rest and req.method == "GET":
            return self._charge(1) or self._list(rest, req)
        return _err(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")

    def _module(self, name: str) -> str | None:
        return next((m for m in self.schemas if m.lower() == name.lower()), None)

    def _oauth(self, req: Request) -> Reply:
        q = {k: v[-1] for k, v in req.query.items()}
        if isinstance(req.body, str):
            from urllib.parse import parse_qs

            q.update({k: v[-1] for k, v in parse_qs(req.body).items()})
        if q.get("grant_type") != "refresh_token":
            return Reply(200, {"error": "unsupported_grant_type"})
        if (q.get("client_id"), q.get("client_secret"), q.get("refresh_token")) != (self.client_id, self.client_secret, self.refresh_token):
            return Reply(200, {"error": "invalid_client"})  # Zoho answers 200 with an error key
        self.token = "zat-" + uuid.uuid4().hex
        return Reply(200, {"access_token": self.token, "api_domain": self.url, "token_type": "Bearer", "expires_in": 3600})

    # -- metadata --------------------------------------------------------------------
    def _fields(self, module: str) -> Reply:
        m = self._module(module)
        if m is None:
            return _err(400, "INVALID_MODULE", "the module name given seems to be invalid", {"module": module})
        return Reply(200, data.fields_metadata(m, self.schemas[m]))

    # -- COQL --------------------------------------------------------------------------
    def _coql(self, body: Any) -> Reply:
        text = body.get("select_query") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _err(400, "INVALID_QUERY", "select_query is missing", {"param_name": "select_query"})
        q = parse(text, require_where=self.require_where)
        module = self._module(q.module)
        if module is None:
            return _err(400, "INVALID_QUERY", "invalid module given", {"module": q.module})
        limit = 200 if q.limit is None else q.limit
        if limit < 1 or limit > self.max_limit:
            return _err(400, "LIMIT_EXCEEDED", f"limit must be between 1 and {self.max_limit}", {"limit": self.max_limit})
        if q.offset + limit > self.max_rows:
            return _err(400, "LIMIT_EXCEEDED", f"only {self.max_rows} records can be fetched through offset",
                        {"limit": self.max_rows})
        charged = self._charge(1 if limit <= 200 else 2 if limit <= 1000 else 3)
        if charged is not None:
            return charged
        schema = self.schemas[module]
        pred = compile_where(q.where, schema, self.null_matches_negation)
        for it in q.items:
            if it.field != "*":
                resolve(schema, it.field)
        rows = [r for r in self.records[module] if pred(r)]
        if q.group_by or any(it.func for it in q.items):
            rows = aggregate(q, rows, schema)
            out = rows[q.offset: q.offset + limit]
        else:
            rows = order(q, rows, schema)
            names = [resolve(schema, it.field)[0] for it in q.items]
            out = [{**{n: r.get(n) for n in names}, "id": r["id"]} for r in rows[q.offset: q.offset + limit]]
        if not out:
            return Reply(204, None)
        return Reply(200, {"data": out, "info": {"count": len(out), "more_records": q.offset + limit < len(rows)}})

    # -- records list --------------------------------------------------------------------------
    def _list(self, name: str, req: Request) -> Reply:
        module = self._module(name)
        if module is None:
            return _err(400, "INVALID_MODULE", "the module name given seems to be invalid", {"module": name})
        fields = [f for f in (req.arg("fields") or "").split(",") if f]
        if not fields:
            return _err(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param_name": "fields"})
        if len(fields) > 50:
            return _err(400, "LIMIT_EXCEEDED", "fields can have at most 50 values", {"param_name": "fields"})
        per_page = int(req.arg("per_page") or 200)
        if not 1 <= per_page <= 200:
            return _err(400, "INVALID_DATA", "per_page must be between 1 and 200", {"param_name": "per_page"})
        token = req.arg("page_token")
        if token and req.arg("page"):
            return _err(400, "INVALID_REQUEST", "page and page_token cannot be used together", {"param_name": "page_token"})
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode())
            except ValueError:
                return _err(400, "INVALID_DATA", "invalid page_token", {"param_name": "page_token"})
            page = start // per_page + 1
        else:
            page = int(req.arg("page") or 1)
            start = (page - 1) * per_page
            if start + per_page > 2000:
                return _err(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                            "use page_token to fetch records beyond the first 2000", {"limit": 2000})
        schema = self.schemas[module]
        api = [resolve(schema, f)[0] for f in fields]
        rows = sorted(self.records[module], key=lambda r: int(r["id"]))[: self.max_rows]
        page_rows = rows[start: start + per_page]
        more = start + per_page < len(rows)
        info: dict[str, Any] = {"per_page": per_page, "count": len(page_rows), "page": page, "sort_by": "id",
                                "sort_order": "asc", "more_records": more, "next_page_token": None,
                                "previous_page_token": None, "page_token_expiry": None}
        if more:
            info["next_page_token"] = base64.urlsafe_b64encode(str(start + per_page).encode()).decode()
        if not page_rows:
            return Reply(204, None)
        out = [{**{n: r.get(n) for n in api}, "id": r["id"], **{k: v for k, v in r.items() if k.startswith("$")}}
               for r in page_rows]
        return Reply(200, {"data": out, "info": info})

    # -- upsert (reverse ETL) --------------------------------------------------------------------
    def _upsert(self, name: str, body: Any) -> Reply:
        module = self._module(name)
        if module is None:
            return _err(400, "INVALID_MODULE", "the module name given seems to be invalid", {"module": name})
        records = body.get("data") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            return _err(400, "INVALID_DATA", "data is missing", {"param_name": "data"})
        if len(records) > 100:
            return _err(400, "LIMIT_EXCEEDED", "Cannot process more than 100 records at a time", {"limit": 100})
        dup = body.get("duplicate_check_fields") or ["Email"]
        schema = self.schemas[module]
        out = []
        with self._lock:
            for rec in records:
                out.append(self._upsert_one(module, schema, dup, rec))
        return Reply(200, {"data": out})

    def _upsert_one(self, module: str, schema: dict[str, Any], dup: list[str], rec: dict[str, Any]) -> dict[str, Any]:
        unknown = [k for k in rec if k not in schema]
        if unknown:
            return {"code": "INVALID_DATA", "details": {"api_name": unknown[0]}, "message": "invalid data", "status": "error"}
        rows = self.records[module]
        hit = next((r for r in rows if any(rec.get(f) is not None and r.get(f) == rec.get(f) for f in dup)), None)
        if hit is not None:
            hit.update(rec)
            return {"code": "SUCCESS", "details": {"id": hit["id"]}, "message": "record updated", "status": "success",
                    "action": "update"}
        new = {k: None for k in schema} | rec
        new["id"] = data.make_id(module, len(rows) + 1)
        rows.append(new)
        return {"code": "SUCCESS", "details": {"id": new["id"]}, "message": "record added", "status": "success", "action": "insert"}


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Zoho CRM v7 emulator (loopback)")
    p.add_argument("--port", type=int, default=8714)
    p.add_argument("--token", default="zoho-test-token")
    p.add_argument("--contacts", type=int, default=250)
    args = p.parse_args(argv)
    serve_until_killed(ZohoEmulator(token=args.token, contacts=args.contacts, port=args.port))


if __name__ == "__main__":
    main()
