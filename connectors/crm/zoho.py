"""Zoho CRM v7 connector: fields metadata → tables, filters → COQL, pages → Arrow.

Options: ``base_url`` (the api-domain, e.g. https://www.zohoapis.eu); ``token`` (an
access token, sent as ``Authorization: Zoho-oauthtoken``) and/or ``client_id`` +
``client_secret`` + ``refresh_token`` (refresh grant against ``accounts_url``,
default ``https://accounts.zoho.com``; a 401 INVALID_TOKEN triggers one refresh);
``tables`` (modules, default Contacts, Accounts, Deals); ``page_size`` (COQL LIMIT
per call, ≤2000) and ``max_rows`` (rows reachable through OFFSET, 100,000): both are
Zoho's documented caps, configurable for tests.

SQL names are lower-cased API names. A lookup ``Account_Name: {name, id}`` becomes
``account_name_id`` (string, joinable with ``accounts.id``) and ``account_name``
(its display name). Pushdown: see ``coql`` for filters and ``zoho_agg`` for GROUP BY aggregates. Paging: ``limit n offset m``
ordered by id; before the offset cap the query restarts from ``id > last id``, so no
row is silently dropped. ORDER BY + LIMIT on one non-text key is pushed twice (the
key ``is not null`` part, then the ``is null`` part) so NULLs land where PostgreSQL
puts them whatever Zoho does; other orderings are sorted here. ORDER BY id is pushed
on the assumption that record ids are 19-digit numbers, so Zoho's numeric order is
the text order SQL uses [U].
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Capabilities, Column, NativeRequest, Pushdown, ScanRequest, TableInfo
from connectors.crm import coql
from connectors.crm.zoho_scan import ZohoPlan, plan_scan, read_pages
from federation.errors import SourceError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from federation.config.model import SourceConfig

DEFAULT_MODULES = ("Contacts", "Accounts", "Deals")
API = "/crm/v7"
TEXT_TYPES = {"text", "textarea", "website", "email", "phone", "autonumber", "picklist"}
SKIPPED_TYPES = {"subform", "fileupload", "imageupload", "multiuserlookup", "multiselectlookup", "profileimage"}


def arrow_type(data_type: str) -> pa.DataType | None:
    """The Arrow type of a fields-metadata ``data_type`` (None: not exposed)."""
    import pyarrow as pa

    if data_type in ("integer", "bigint", "long"):
        return pa.int64()
    if data_type in ("double", "currency", "percent", "decimal"):
        return pa.float64()
    if data_type == "boolean":
        return pa.bool_()
    if data_type == "date":
        return pa.date32()
    if data_type in ("datetime", "event_reminder"):
        return pa.timestamp("us", tz="UTC")
    if data_type == "multiselectpicklist":
        return pa.list_(pa.string())
    if data_type in SKIPPED_TYPES:
        return None
    return pa.string()


def _kind(data_type: str) -> str:
    if data_type in ("integer", "bigint", "long", "double", "currency", "percent", "decimal"):
        return "number"
    if data_type == "boolean":
        return "bool"
    if data_type in ("date", "datetime"):
        return data_type
    if data_type in TEXT_TYPES and data_type != "textarea":
        return "text"
    return "other"  # multi-line text cannot be used in criteria; lists and lookups' names are not pushed


def _describe_error(status: int, data: Any) -> str | None:
    """Zoho's error ``code`` (plus the offending field's API name), never its message."""
    if not isinstance(data, dict) or not data.get("code"):
        return None
    code = str(data["code"])
    det = data.get("details") if isinstance(data.get("details"), dict) else {}
    extra = det.get("column_name") or det.get("api_name") or det.get("param_name")
    return f"{code}: {extra}" if extra else code


class ZohoConnector:
    source_type = "zoho"

    def __init__(self, config: SourceConfig, workspace_dir: Path) -> None:
        from connectors.crm.http import CrmHttp

        self.name = config.name
        self.config = config
        opts = config.options
        self.base_url = str(opts.get("base_url") or "").rstrip("/")
        tables = opts.get("tables") or DEFAULT_MODULES
        self.modules = list(tables.keys()) if isinstance(tables, dict) else [str(t) for t in tables]
        self.page_size = min(max(int(opts.get("page_size") or 2000), 1), 2000)
        self.max_rows = max(int(opts.get("max_rows") or 100_000), self.page_size)
        self._token: str | None = opts.get("token")
        self._can_refresh = all(opts.get(k) for k in ("client_id", "client_secret", "refresh_token"))
        if not self._token and not self._can_refresh:
            raise SourceError(self.name, "needs `token`, or `client_id`, `client_secret` and `refresh_token`; none was set",
                              hint="Set them from the environment, e.g. token: \"${ZOHO_TOKEN}\".")
        self.capabilities = Capabilities(
            supports_projection=True, supports_filter=True, supports_limit=True, supports_order=True,
            supports_aggregation=True, max_page_size=self.page_size, max_in_list=(coql.MAX_CRITERIA - coql.RESERVED - 1) * coql.MAX_IN,
        )
        rate = opts.get("rate_limit")
        self.http = CrmHttp(
            self.name, "zoho", self.base_url, headers=self._headers,
            credential=self._token or opts.get("client_id"), rates={"default": float(rate)} if rate else None,
            timeout=float(opts.get("timeout") or 30.0),
            retry_budget=float(opts.get("retry_budget") if opts.get("retry_budget") is not None else 60.0),
            describe_error=_describe_error,
        )
        self._tables: list[TableInfo] | None = None
        # table -> SQL column -> (api name, lookup subkey or None, data_type)
        self.specs: dict[str, dict[str, tuple[str, str | None, str]]] = {}

    # -- auth ------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._refresh()
        return {"Authorization": f"Zoho-oauthtoken {self._token}"}

    def _refresh(self) -> str:
        """OAuth refresh-token grant (https://www.zoho.com/crm/developer/docs/api/v7/refresh.html)."""
        import httpx

        url = str(self.config.get("accounts_url") or "https://accounts.zoho.com").rstrip("/") + "/oauth/v2/token"
        form = {"grant_type": "refresh_token", "client_id": self.config.get("client_id"),
                "client_secret": self.config.get("client_secret"), "refresh_token": self.config.get("refresh_token")}
        try:
            resp = httpx.post(url, data=form, timeout=float(self.config.get("timeout") or 30.0))
            doc = resp.json() if resp.status_code == 200 else None
            token = doc.get("access_token") if isinstance(doc, dict) else None  # Zoho answers 200 {"error": ...} too
        except (httpx.HTTPError, ValueError) as e:
            raise SourceError(self.name, f"could not refresh the Zoho access token ({type(e).__name__})") from None
        if not token:
            raise SourceError(self.name, f"Zoho OAuth refresh failed ({resp.status_code})",
                              hint="Check client_id, client_secret, refresh_token (never printed) and accounts_url.")
        return str(token)

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None) -> tuple[int, Any]:
        """One logical request; refreshes an expired token once. Returns (status, JSON or None)."""
        try:
            r = self.http.request(method, path, params=params, json=json)
        except SourceError as e:
            if "INVALID_TOKEN" not in e.message or not self._can_refresh:
                if "INVALID_TOKEN" in e.message or "AUTHENTICATION_FAILURE" in e.message:
                    e.hint = "The Zoho access token is invalid or expired; renew it or set a refresh token (never printed)."
                elif "INVALID_MODULE" in e.message:
                    e.hint = "Check the module names in `tables` for this source (API names, e.g. Contacts)."
                elif "INVALID_QUERY" in e.message:
                    e.hint = "A field may have been renamed or removed in Zoho (schema drift?); re-run `cdp sources describe`."
                raise
            self._token = self._refresh()
            r = self.http.request(method, path, params=params, json=json)
        return r.status, r.data

    # -- discovery -------------------------------------------------------------------
    def tables(self) -> list[TableInfo]:
        if self._tables is None:
            self._tables = [self._describe(m) for m in self.modules]
        return list(self._tables)

    def _describe(self, module: str) -> TableInfo:
        import pyarrow as pa

        _s, doc = self.call("GET", f"{API}/settings/fields", params={"module": module})
        cols = [Column("id", pa.string(), "id", nullable=False, description="record id")]
        spec: dict[str, tuple[str, str | None, str]] = {"id": ("id", None, "id")}
        for f in (doc or {}).get("fields", []):
            api, dtype = str(f.get("api_name") or ""), str(f.get("data_type") or "text")
            if not api or api == "id":
                continue
            if dtype in ("lookup", "ownerlookup", "userlookup"):
                target = ((f.get("lookup") or {}).get("module") or {}).get("api_name") or "users"
                cols.append(Column(f"{api.lower()}_id", pa.string(), api, description=f"id of the {target} record"))
                cols.append(Column(api.lower(), pa.string(), api, description=f"name of the {target} record"))
                spec[f"{api.lower()}_id"], spec[api.lower()] = (api, "id", dtype), (api, "name", dtype)
                continue
            t = arrow_type(dtype)
            if t is None:
                continue
            cols.append(Column(api.lower(), t, api, description=f.get("field_label")))
            spec[api.lower()] = (api, None, dtype)
        self.specs[module.lower()] = spec
        return TableInfo(module.lower(), module, tuple(cols))

    def table(self, name: str) -> TableInfo:
        for t in self.tables():
            if t.name == name.lower():
                return t
        raise SourceError(self.name, f"has no module '{name}'", hint=did_you_mean(name, [t.name for t in self.tables()]))

    def fields(self, table: TableInfo) -> dict[str, coql.Field]:
        out = {}
        for col, (api, sub, dtype) in self.specs.get(table.name, {}).items():
            if col == "id" or sub == "id":
                out[col] = coql.Field(api, "id")
            elif sub is None:
                out[col] = coql.Field(api, _kind(dtype))
        return out

    # -- pushdown ----------------------------------------------------------------------
    def classify(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        if not self.specs.get(table.name):
            self.table(table.name)
        r = coql.render(predicate, self.fields(table))
        if r is None or r[1] > coql.MAX_CRITERIA - coql.RESERVED:
            return "unsupported"
        return "exact" if r[0].exact else "inexact"

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        """Single-module GROUP BY aggregates COQL can compute exactly (see ``zoho_agg``)."""
        from connectors.crm.zoho_agg import plan_aggregate

        return plan_aggregate(self, query) is not None

    # -- scan ----------------------------------------------------------------------------
    def plan(self, request: ScanRequest) -> ZohoPlan:
        return plan_scan(self, self.table(request.table or ""), request)

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        if request.query is not None:
            from connectors.crm.zoho_agg import plan_aggregate

            agg = plan_aggregate(self, request.query)
            text = coql.select_raw(agg.query, self.page_size) if agg else None
            return [NativeRequest("http", method="POST", path=f"{API}/coql", body={"select_query": text},
                                  detail={"estimated_requests": 1})]
        p = self.plan(request)
        out = []
        for i, q in enumerate(p.first_queries()):
            detail: dict[str, Any] = {"page_size": p.page_size}
            if i == 0:
                try:
                    detail["estimated_requests"] = self._estimate(p)
                except SourceError as e:  # explain still shows the request
                    detail["estimated_requests"] = None
                    detail["estimate_error"] = e.message
            if p.local_filters:
                detail["applied_locally"] = [f.sql() for f in p.local_filters]
            out.append(NativeRequest("http", method="POST", path=f"{API}/coql", body={"select_query": q}, detail=detail))
        return out

    def _estimate(self, p: ZohoPlan) -> int:
        """Calls this scan will make, from a COUNT over the same WHERE (one extra, 1-credit call)."""
        status, doc = self.call("POST", f"{API}/coql", json={"select_query": p.count_query()})
        row = {} if status == 204 else (((doc or {}).get("data") or [{}])[0])
        # the aggregate's key is "COUNT(id)" in the emulator; take any number, as the live key is unverified
        total = int(next((v for v in row.values() if isinstance(v, (int, float)) and not isinstance(v, bool)), 0))
        return p.estimate(total)

    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        import pyarrow as pa

        if request.query is not None:
            from connectors.crm.zoho_agg import scan_aggregate

            return scan_aggregate(self, request)
        p = self.plan(request)
        schema = pa.schema([pa.field(n, c.type) for n, c in zip(request.output_names, p.columns)])
        batches = read_pages(self, p, schema)
        if p.local_order is None:
            return pa.RecordBatchReader.from_batches(schema, batches)
        from connectors.crm.local import sort_limit

        out_name = {c.name: n for n, c in zip(request.output_names, p.columns)}
        keys = [(out_name[c], d, nf) for c, d, nf in p.local_order if c in out_name]
        if len(keys) != len(p.local_order):
            raise SourceError(self.name, "ORDER BY keys must be among the scanned columns")
        table = pa.Table.from_batches(list(batches), schema)
        return sort_limit(table, keys, request.limit).to_reader()

    def request_stats(self) -> dict[str, Any]:
        """Requests, retries, bytes and seconds spent on the wire so far (for explain --analyze)."""
        return self.http.stats.snapshot()

    def check(self) -> None:
        self.call("GET", f"{API}/settings/fields", params={"module": self.modules[0] if self.modules else "Contacts"})

    def close(self) -> None:
        self.http.close()
