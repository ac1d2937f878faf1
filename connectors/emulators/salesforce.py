"""A loopback Salesforce REST emulator: SOQL query/queryMore, describe, upsert,
sObject Collections delete, OAuth.

Reproduces the documented wire protocol (CRM-PROTOCOLS section 2): error arrays,
``nextRecordsUrl`` paging with the ``Sforce-Query-Options: batchSize`` clamp, the
``Sforce-Limit-Info`` header, 403 REQUEST_LIMIT_EXCEEDED once the org's request
allowance is spent, and ``python -m connectors.emulators.salesforce --port N``.

``SalesforceApp.handle`` is the protocol logic (pure, testable without sockets);
``SalesforceEmulator`` puts it behind the shared loopback server (``base``).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from connectors.emulators import salesforce_data as data
from connectors.emulators.base import EmulatorBase, Reply, Request, serve_until_killed
from connectors.emulators.soql_eval import Fields, aggregate, compile_where, order_rows
from connectors.emulators.soql_parser import Item, SoqlError, parse

Response = tuple[int, dict[str, str], Any]
MAX_SOQL = 100_000
MAX_OFFSET = 2000


def _err(status: int, code: str, message: str) -> Response:
    return status, {}, [{"message": message, "errorCode": code}]


class SalesforceApp:
    """The org: objects, records, tokens, and the request counters tests read."""

    def __init__(self, token: str = "sf-test-token", client_id: str = "cid", client_secret: str = "csecret",
                 contacts: int = 250, api_limit: int = 100_000, today: date | None = None) -> None:
        self.token = token
        self.client_id, self.client_secret = client_id, client_secret
        self.schemas = {k: dict(v) for k, v in data.SCHEMAS.items()}
        self.records = data.seed(contacts=contacts)
        self.api_limit = api_limit
        self.api_used = 0
        self.today = today or date(2025, 6, 15)  # injectable clock for TODAY / LAST_N_DAYS
        self._cursors: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self.writes = 0
        self.deleted: list[str] = []

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

    # -- switches for tests ------------------------------------------------------
    def rename_field(self, sobject: str, old: str, new: str) -> None:
        """Schema drift: a field is renamed in the org (data and describe)."""
        self.schemas[sobject] = {(new if k == old else k): v for k, v in self.schemas[sobject].items()}
        for r in self.records[sobject]:
            r[new] = r.pop(old, None)

    # -- entry point ---------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes | None) -> Response:
        status, out_headers, payload = self._route(method, target, {k.lower(): v for k, v in headers.items()}, body)
        out_headers.setdefault("Sforce-Limit-Info", f"api-usage={self.api_used}/{self.api_limit}")
        return status, out_headers, payload

    def _route(self, method: str, target: str, headers: dict[str, str], body: bytes | None) -> Response:
        url = urlsplit(target)
        path = url.path
        if path == "/services/oauth2/token" and method == "POST":
            return self._oauth(body or b"")
        if not path.startswith("/services/data/"):
            return _err(404, "NOT_FOUND", "The requested resource does not exist")
        if headers.get("authorization") != f"Bearer {self.token}":
            return _err(401, "INVALID_SESSION_ID", "Session expired or invalid")
        with self._lock:
            self.api_used += 1
            over = self.api_used > self.api_limit
        if over:
            return _err(403, "REQUEST_LIMIT_EXCEEDED", f"TotalRequests Limit exceeded. Limit: {self.api_limit}")
        m = re.fullmatch(r"/services/data/(v\d+\.\d+)(/.*)?", path)
        if m is None:
            return _err(404, "NOT_FOUND", "The requested resource does not exist")
        version, rest = m.group(1), m.group(2) or "/"
        try:
            return self._api(method, version, rest, url.query, headers, body)
        except SoqlError as e:
            status = 400
            return _err(status, e.code, e.message)

    def _api(self, method: str, version: str, rest: str, query: str, headers: dict[str, str], body: bytes | None) -> Response:
        if method == "DELETE" and rest.rstrip("/") == "/composite/sobjects":
            # sObject Collections delete: one result per id, in order; at most 200 ids
            ids = [i for i in parse_qs(query).get("ids", [""])[0].split(",") if i]
            if not ids or len(ids) > 200:
                return _err(400, "EXCEEDED_ID_LIMIT", "between 1 and 200 ids are allowed")
            return 200, {}, [self._delete_one(i) for i in ids]
        if rest == "/limits" and method == "GET":
            return 200, {}, {"DailyApiRequests": {"Max": self.api_limit, "Remaining": self.api_limit - self.api_used}}
        m = re.fullmatch(r"/sobjects/(\w+)/describe/?", rest)
        if m and method == "GET":
            schema = self._schema(m.group(1))
            if schema is None:
                return _err(404, "NOT_FOUND", f"The requested resource does not exist: {m.group(1)}")
            return 200, {}, data.describe(schema[0], schema[1])
        if rest in ("/query", "/query/") and method == "GET":
            q = parse_qs(query, keep_blank_values=True).get("q", [""])[0]
            return self._query(version, q, headers)
        m = re.fullmatch(r"/query/([0-9A-Za-z]+)-(\d+)", rest)
        if m and method == "GET":
            return self._more(version, m.group(1), int(m.group(2)), headers)
        m = re.fullmatch(r"/composite/sobjects/(\w+)/(\w+)", rest)
        if m and method == "PATCH":
            return self._upsert(m.group(1), m.group(2), body or b"")
        return _err(404, "NOT_FOUND", "The requested resource does not exist")

    def _schema(self, name: str) -> tuple[str, dict[str, tuple[str, bool, bool]]] | None:
        for k, v in self.schemas.items():
            if k.lower() == name.lower():
                return k, v
        return None

    def _oauth(self, body: bytes) -> Response:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 400, {}, {"error": "invalid_client", "error_description": "invalid client credentials"}
        return 200, {}, {"access_token": self.token, "token_type": "Bearer", "instance_url": "", "issued_at": "0"}

    # -- query / queryMore -------------------------------------------------------------
    @staticmethod
    def _batch_size(headers: dict[str, str]) -> int:
        m = re.search(r"batchSize=(\d+)", headers.get("sforce-query-options", ""))
        return min(max(int(m.group(1)), 200), 2000) if m else 2000

    def _query(self, version: str, soql: str, headers: dict[str, str]) -> Response:
        if len(soql) > MAX_SOQL:
            raise SoqlError("MALFORMED_QUERY", f"SOQL statements cannot be longer than {MAX_SOQL} characters")
        q = parse(soql)
        schema = self._schema(q.sobject)
        if schema is None:
            raise SoqlError("INVALID_TYPE", f"sObject type '{q.sobject}' is not supported.")
        sobject, fields_meta = schema
        fields = Fields(sobject, {k: t for k, (t, _n, _e) in fields_meta.items()})
        if q.offset is not None and q.offset > MAX_OFFSET:
            raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        count_only = len(q.items) == 1 and q.items[0] == Item("COUNT", None) and not q.group_by
        if count_only and q.order_by:
            raise SoqlError("MALFORMED_QUERY", "COUNT() and ORDER BY may not be used together")
        for it in q.items:
            if it.field is not None:
                fields.resolve(it.field)
        pred = compile_where(q.where, fields, self.today) if q.where is not None else None
        rows = [r for r in self.records[sobject] if pred is None or pred(r)]
        if count_only:
            return 200, {}, {"totalSize": len(rows), "done": True, "records": []}
        rows = self._shape(q, rows, fields, sobject, version)
        start = q.offset or 0
        rows = rows[start: start + q.limit if q.limit is not None else None]
        locator = uuid.uuid4().hex[:15]
        with self._lock:
            self._cursors[locator] = (sobject, rows)
        return self._page(version, locator, 0, self._batch_size(headers))

    def _shape(self, q: Any, rows: list[dict[str, Any]], fields: Fields, sobject: str, version: str) -> list[dict[str, Any]]:
        if q.is_aggregate:
            out = aggregate(q, rows, fields)
            labels = _agg_labels(q, fields)
            grouped = {fields.resolve(g)[0] for g in q.group_by}
            out = order_rows(out, q, lambda it: labels[it], lambda n: fields.resolve(n)[1] if n in grouped else "double")
            return [{"attributes": {"type": "AggregateResult"}, **r} for r in out]
        rows = order_rows(rows, q, lambda it: fields.resolve(it.field or "")[0], lambda n: fields.resolve(n)[1])
        names = [fields.resolve(it.field or "")[0] for it in q.items]
        return [
            {"attributes": {"type": sobject, "url": f"/services/data/{version}/sobjects/{sobject}/{r['Id']}"},
             **{n: r.get(n) for n in names}}
            for r in rows
        ]

    def _page(self, version: str, locator: str, offset: int, size: int) -> Response:
        with self._lock:
            cursor = self._cursors.get(locator)
        if cursor is None:
            raise SoqlError("INVALID_QUERY_LOCATOR", "invalid query locator")
        rows = cursor[1]
        page = rows[offset: offset + size]
        done = offset + size >= len(rows)
        out: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": page}
        if not done:
            out["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{offset + size}"
        else:
            with self._lock:
                self._cursors.pop(locator, None)
        return 200, {}, out

    def _more(self, version: str, locator: str, offset: int, headers: dict[str, str]) -> Response:
        return self._page(version, locator, offset, self._batch_size(headers))

    # -- sObject Collections upsert (reverse ETL) ----------------------------------------
    def _upsert(self, sobject: str, ext_field: str, body: bytes) -> Response:
        schema = self._schema(sobject)
        if schema is None:
            return _err(404, "NOT_FOUND", f"The requested resource does not exist: {sobject}")
        sobject, meta = schema
        try:
            payload = json.loads(body or b"{}")
            records = payload["records"]
        except (ValueError, KeyError, TypeError):
            return _err(400, "JSON_PARSER_ERROR", "expected {\"allOrNone\": bool, \"records\": [...]}")
        if len(records) > 200:
            return _err(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records in this operation")
        if ext_field not in meta or not meta[ext_field][2]:
            return _err(400, "INVALID_FIELD", f"{ext_field} is not an external id field on {sobject}")
        results = [self._upsert_one(sobject, meta, ext_field, rec) for rec in records]
        return 200, {}, results

    def _upsert_one(self, sobject: str, meta: dict[str, Any], ext_field: str, rec: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in rec.items() if k != "attributes"}
        unknown = [k for k in fields if k not in meta or k == "Id"]
        if unknown or fields.get(ext_field) in (None, ""):
            msg = f"No such column '{unknown[0]}' on sobject of type {sobject}" if unknown else f"{ext_field} is required"
            return {"id": None, "success": False, "created": False,
                    "errors": [{"statusCode": "INVALID_FIELD", "message": msg, "fields": unknown[:1]}]}
        with self._lock:
            self.writes += 1
            rows = self.records[sobject]
            hit = next((r for r in rows if r.get(ext_field) == fields[ext_field]), None)
            if hit is not None:
                hit.update(fields)
                return {"id": hit["Id"], "success": True, "created": False, "errors": []}
            new = {k: None for k in meta} | fields
            new["Id"] = data.make_id(sobject, len(rows) + 1)
            new.setdefault("CreatedDate", data.sf_datetime(datetime.now(timezone.utc)))
            for k, (t, nillable, _e) in meta.items():
                if t == "boolean" and new.get(k) is None:
                    new[k] = False
                if t == "datetime" and new.get(k) is None and not nillable:
                    new[k] = data.sf_datetime(datetime.now(timezone.utc))
            rows.append(new)
            return {"id": new["Id"], "success": True, "created": True, "errors": []}


def _agg_labels(q: Any, fields: Fields) -> dict[Item, str]:
    labels: dict[Item, str] = {}
    n = 0
    for it in q.items:
        if it.func is None:
            labels[it] = fields.resolve(it.field or "")[0]
            labels[Item(None, it.field)] = labels[it]
        else:
            labels[it] = it.alias or f"expr{n}"
            labels[Item(it.func, it.field)] = labels[it]
            n += 0 if it.alias else 1
    for g in q.group_by:
        labels.setdefault(Item(None, g), fields.resolve(g)[0])
    for o in q.order_by:
        if o.key not in labels:
            raise SoqlError("MALFORMED_QUERY", "ORDER BY must name a grouped field or an aggregate in the SELECT list")
    return labels


class SalesforceEmulator(EmulatorBase):
    """The app behind the shared loopback server (request log, fault switches)."""

    def __init__(self, app: SalesforceApp | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.app = app or SalesforceApp()

    def route(self, req: Request) -> Reply:
        target = req.path + ("?" + urlencode(req.query, doseq=True) if req.query else "")
        body = req.body if isinstance(req.body, str) else (json.dumps(req.body) if req.body is not None else "")
        status, headers, payload = self.app.handle(req.method, target, req.headers, body.encode())
        return Reply(status, payload, headers)

    def rate_limited_reply(self, retry_after: str | float | None) -> Reply:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return Reply(429, [{"message": "rate limited (injected)", "errorCode": "REQUEST_LIMIT_EXCEEDED"}], headers)

    def server_error_reply(self) -> Reply:
        return Reply(500, [{"message": "An unexpected error occurred (injected)", "errorCode": "UNKNOWN_EXCEPTION"}])


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Salesforce REST emulator (loopback)")
    p.add_argument("--port", type=int, default=8712)
    p.add_argument("--token", default="sf-test-token")
    p.add_argument("--contacts", type=int, default=250)
    args = p.parse_args(argv)
    serve_until_killed(SalesforceEmulator(SalesforceApp(token=args.token, contacts=args.contacts), port=args.port))


if __name__ == "__main__":
    main()
