"""A loopback Dataverse Web API (v9.2) emulator (CRM-PROTOCOLS section 3).

Collections with ``$select`` (primary key always returned), ``$filter`` (see
``odata_parser``), ``$orderby``, ``$top`` (ignored when ``Prefer: odata.maxpagesize``
is sent), ``$count``; ``$skip`` and unknown options answer 400. Pages end with an
``@odata.nextLink`` holding an opaque ``$skiptoken`` bound to the other options:
change the link and it is refused. ``EntityDefinitions(LogicalName='x')`` metadata,
alternate-key upsert (``PATCH /contacts(key='v')``), ``{"error": {code, message}}``
bodies, and 429 + Retry-After once a request budget per window is spent.
Run: ``python -m connectors.emulators.dataverse --port N``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from connectors.emulators import dataverse_data as data
from connectors.emulators.base import EmulatorBase, Reply, Request, WindowLimiter, serve_until_killed
from connectors.emulators.odata_parser import ODataError, compile_filter, parse_filter

API = "/api/data/v9.2"
KNOWN_OPTIONS = {"$select", "$filter", "$orderby", "$top", "$count", "$skiptoken", "$expand", "$apply"}
MAX_PAGE = 5000


def error(status: int, message: str, code: str = "0x80060888") -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


class DataverseEmulator(EmulatorBase):
    def __init__(self, *, token: str = "dv-test-token", contacts: int = 120, request_budget: int | None = None,
                 window_seconds: float = 300.0, client_id: str = "cid", client_secret: str = "csecret", **kw: Any) -> None:
        super().__init__(**kw)
        self.token, self.client_id, self.client_secret = token, client_id, client_secret
        self.rows = data.seed(contacts=contacts)
        self.entities = {k: v for k, v in data.ENTITIES.items()}
        self.limiter = WindowLimiter(request_budget, window_seconds) if request_budget else None
        self.writes = 0

    # -- vendor-shaped injected faults --------------------------------------------
    def rate_limited_reply(self, retry_after: str | float | None) -> Reply:
        r = error(429, "Number of requests exceeded the limit of 6000 over time window of 300 seconds.", "0x80072322")
        if retry_after is not None:
            r.headers["Retry-After"] = str(retry_after)
        return r

    def server_error_reply(self) -> Reply:
        return error(500, "An unexpected error occurred (injected).", "0x80040216")

    # -- routing --------------------------------------------------------------------
    def route(self, req: Request) -> Reply:
        if req.path.endswith("/oauth2/v2.0/token") and req.method == "POST":
            return self._token(req)
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return error(401, "The user is not authenticated (invalid or expired token).", "0x80048306")
        if self.limiter is not None:
            ok, _left, wait = self.limiter.hit()
            if not ok:
                r = error(429, "Number of requests exceeded the limit of 6000 over time window of 300 seconds.", "0x80072322")
                r.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return r
        if not req.path.startswith(API + "/"):
            return error(404, f"Resource not found for the segment '{req.path}'.")
        rest = req.path[len(API) + 1:]
        try:
            m = re.fullmatch(r"EntityDefinitions\(LogicalName='(\w+)'\)", rest)
            if m and req.method == "GET":
                return self._metadata(m.group(1))
            m = re.fullmatch(r"(\w+)/\$count", rest)
            if m and req.method == "GET":
                rows = self._rows_of(m.group(1))[1]
                return Reply(200, str(min(len(rows), MAX_PAGE)).encode(), {"Content-Type": "text/plain"})
            m = re.fullmatch(r"(\w+)\((\w+)='((?:[^']|'')*)'\)", rest)
            if m and req.method == "PATCH":
                return self._upsert(req, m.group(1), m.group(2), m.group(3).replace("''", "'"))
            if re.fullmatch(r"\w+", rest) and req.method == "GET":
                return self._collection(req, rest)
        except ODataError as e:
            return error(400, e.message, e.code)
        return error(404, f"Resource not found for the segment '{rest}'.")

    def _token(self, req: Request) -> Reply:
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(req.body if isinstance(req.body, str) else "").items()}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Reply(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
        return Reply(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": self.token})

    def _metadata(self, logical: str) -> Reply:
        if logical not in self.entities:
            return error(404, f"Could not find an entity with LogicalName = '{logical}'.", "0x80060888")
        return Reply(200, {"@odata.context": f"{API}/$metadata#EntityDefinitions", **data.metadata(logical)})

    def _rows_of(self, entity_set: str) -> tuple[str, list[dict[str, Any]]]:
        for logical, (es, *_rest) in self.entities.items():
            if es == entity_set:
                return logical, self.rows[logical]
        raise ODataError(f"Resource not found for the segment '{entity_set}'.", "0x80060888")

    def _types(self, logical: str) -> dict[str, str]:
        return {data.column_name(a, t): (t if tn != "MultiSelectPicklistType" else "MultiSelect")
                for a, t, tn in self.entities[logical][3]}

    # -- collections ----------------------------------------------------------------------
    def _collection(self, req: Request, entity_set: str) -> Reply:
        for key in req.query:
            if key not in KNOWN_OPTIONS and not key.startswith("@"):
                if key.lower() in KNOWN_OPTIONS or key in ("$skip", "$search", "$format"):
                    raise ODataError(f"The query parameter {key} is not supported", "0x80060888")
                raise ODataError(f"The query parameter {key} is not supported", "0x80060888")
        logical, rows = self._rows_of(entity_set)
        types = self._types(logical)
        pk = self.entities[logical][1]
        pagesize = _maxpagesize(req.headers.get("prefer", ""))
        opts = {k: v[-1] for k, v in req.query.items() if k != "$skiptoken"}
        offset = 0
        if "$skiptoken" in req.query:
            offset = self._check_token(req.query["$skiptoken"][-1], opts, pagesize)
        selected = self._select(opts.get("$select"), types, pk)
        matched = self._filter(rows, opts, types)
        matched = self._order(matched, opts.get("$orderby"), types)
        total = len(matched)
        size = pagesize or MAX_PAGE
        if pagesize is None and "$top" in opts:
            size = min(int(opts["$top"]), MAX_PAGE)
            matched = matched[:size]
        page = matched[offset: offset + size]
        body: dict[str, Any] = {"@odata.context": f"{API}/$metadata#{entity_set}"}
        if opts.get("$count") == "true":
            body["@odata.count"] = min(total, MAX_PAGE)
            if "totalrecordcount" in req.headers.get("prefer", ""):
                body["@Microsoft.Dynamics.CRM.totalrecordcount"] = min(total, MAX_PAGE)
                body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = total > MAX_PAGE
        body["value"] = [{"@odata.etag": f'W/"{1000 + i}"', **{k: r.get(k) for k in selected}} for i, r in enumerate(page)]
        if offset + size < len(matched):
            token = self._make_token(offset + size, opts, pagesize)
            host = req.headers.get("host", f"{self.host}:{self.port}")
            body["@odata.nextLink"] = f"http://{host}{API}/{entity_set}?" + urlencode({**opts, "$skiptoken": token}, safe="$@")
        headers = {"OData-Version": "4.0"}
        if pagesize is not None:
            headers["Preference-Applied"] = f"odata.maxpagesize={pagesize}"
        return Reply(200, body, headers)

    @staticmethod
    def _sig(opts: dict[str, str], pagesize: int | None) -> str:
        return hashlib.sha256(json.dumps([sorted(opts.items()), pagesize]).encode()).hexdigest()[:16]

    def _make_token(self, offset: int, opts: dict[str, str], pagesize: int | None) -> str:
        cookie = f'<cookie pagenumber="{offset}" sig="{self._sig(opts, pagesize)}" />'
        return base64.urlsafe_b64encode(cookie.encode()).decode()

    def _check_token(self, token: str, opts: dict[str, str], pagesize: int | None) -> int:
        try:
            cookie = base64.urlsafe_b64decode(token.encode()).decode()
            m = re.fullmatch(r'<cookie pagenumber="(\d+)" sig="(\w+)" />', cookie)
        except (ValueError, UnicodeDecodeError):
            m = None
        if m is None or m.group(2) != self._sig(opts, pagesize):
            raise ODataError("The $skiptoken is invalid, or the @odata.nextLink was changed before it was replayed.", "0x80040203")
        return int(m.group(1))

    def _select(self, text: str | None, types: dict[str, str], pk: str) -> list[str]:
        if not text:
            return list(types)
        out = [pk]
        for name in text.split(","):
            name = name.strip()
            if name not in types:
                raise ODataError(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.x'.", "0x80060888")
            if name not in out:
                out.append(name)
        return out

    def _filter(self, rows: list[dict[str, Any]], opts: dict[str, str], types: dict[str, str]) -> list[dict[str, Any]]:
        text = opts.get("$filter")
        if not text:
            return list(rows)
        aliases = {k: v for k, v in opts.items() if k.startswith("@")}

        def resolve(name: str) -> str:
            if name not in types:
                raise ODataError(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.x'.", "0x80060888")
            return name

        pred = compile_filter(parse_filter(text, aliases), lambda p, v: _coerce(types[p], v), resolve)
        return [r for r in rows if pred(r) is True]

    def _order(self, rows: list[dict[str, Any]], text: str | None, types: dict[str, str]) -> list[dict[str, Any]]:
        if not text:
            return rows
        for part in reversed([p.strip() for p in text.split(",")]):
            bits = part.split()
            name = bits[0]
            if name not in types or len(bits) > 2 or (len(bits) == 2 and bits[1] not in ("asc", "desc")):
                raise ODataError(f"Invalid $orderby expression '{part}'.", "0x80060888")
            desc = len(bits) == 2 and bits[1] == "desc"
            present = [r for r in rows if r.get(name) is not None]
            nulls = [r for r in rows if r.get(name) is None]
            present.sort(key=lambda r: _sort_key(_coerce(types[name], r[name])), reverse=desc)
            rows = present + nulls if desc else nulls + present  # SQL Server: nulls are the smallest
        return rows

    # -- upsert by alternate key ---------------------------------------------------------
    def _upsert(self, req: Request, entity_set: str, key: str, value: str) -> Reply:
        logical, rows = self._rows_of(entity_set)
        if key != self.entities[logical][2]:
            return error(400, f"Alternate key '{key}' is not defined on entity '{logical}'.", "0x80060891")
        if not isinstance(req.body, dict):
            return error(400, "The request body must be a JSON object.")
        types = self._types(logical)
        unknown = [k for k in req.body if k not in types]
        if unknown:
            return error(400, f"The property '{unknown[0]}' does not exist on type 'Microsoft.Dynamics.CRM.{logical}'.")
        hit = next((r for r in rows if r.get(key) == value), None)
        if hit is not None and req.headers.get("if-none-match") == "*":
            return error(412, "A record with matching key values already exists.", "0x80040237")
        if hit is None and req.headers.get("if-match") == "*":
            return error(404, f"{logical} with key {key}={value} does not exist.", "0x80040217")
        self.writes += 1
        if hit is None:
            pk = self.entities[logical][1]
            hit = {k: None for k in types} | {pk: str(__import__("uuid").uuid4()), key: value,
                                                "createdon": data.z(datetime.now(timezone.utc))}
            rows.append(hit)
        hit.update(req.body)
        hit["modifiedon"] = data.z(datetime.now(timezone.utc))
        return Reply(204, None, {"OData-EntityId": f"{API}/{entity_set}({hit[self.entities[logical][1]]})"})


def _maxpagesize(prefer: str) -> int | None:
    m = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    if not m:
        return None
    n = int(m.group(1))
    if n < 1 or n > MAX_PAGE:
        raise ODataError(f"odata.maxpagesize must be between 1 and {MAX_PAGE}.", "0x80060888")
    return n


def _coerce(atype: str, v: Any) -> Any:
    """Type a row value or a literal for one attribute type; mismatches are 400s."""
    if v is None:
        return None
    bad = ODataError("A binary operator with incompatible types was detected.", "0x80060888")
    if atype == "DateTime":
        if isinstance(v, datetime):
            return v
        if isinstance(v, str):
            try:
                return datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(timezone.utc)
            except ValueError:
                raise bad from None
        raise bad
    if atype in ("Integer", "BigInt", "Picklist", "State", "Status"):
        if isinstance(v, bool) or isinstance(v, float):
            raise bad
        try:
            return int(v)
        except ValueError:
            raise bad from None
    if atype in ("Double", "Decimal", "Money"):
        if isinstance(v, bool):
            raise bad
        try:
            return float(v)
        except ValueError:
            raise bad from None
    if atype == "Boolean":
        if isinstance(v, bool):
            return v
        raise bad
    if not isinstance(v, str):
        raise bad
    return v


def _sort_key(v: Any) -> Any:
    return v.casefold() if isinstance(v, str) else v


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Dataverse Web API emulator (loopback)")
    p.add_argument("--port", type=int, default=8713)
    p.add_argument("--token", default="dv-test-token")
    p.add_argument("--contacts", type=int, default=120)
    args = p.parse_args(argv)
    serve_until_killed(DataverseEmulator(token=args.token, contacts=args.contacts, port=args.port))


if __name__ == "__main__":
    main()
