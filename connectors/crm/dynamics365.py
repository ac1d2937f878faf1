"""Microsoft Dataverse (Dynamics 365) Web API v9.2 connector.

Options: ``base_url`` (the organization URI); ``token`` (an Entra ID access token), or
``client_id`` + ``client_secret`` + ``token_url`` (client-credentials flow; ``scope``
defaults to ``{base_url}/.default``); ``tables`` (logical names, default contact,
account); ``page_size`` (``Prefer: odata.maxpagesize``, at most 5000).

Types: String/Memo/Uniqueidentifier/Lookup → string (lookups as ``_x_value``),
Integer/Picklist/State/Status → int32, BigInt → int64, Double/Decimal/Money →
float64 (documented choice: money arrives as JSON numbers), Boolean → bool, DateTime →
timestamp[us, UTC], multi-select choices ("1,9") → list<int32>.

LIMIT: ``$top`` is ignored by Dataverse when ``odata.maxpagesize`` is also sent, so a
LIMIT ≤ 5000 goes as ``$top`` *without* the paging header (one page); a larger one
pages with maxpagesize and stops reading once enough rows arrived. ORDER BY keys go
down only when Dataverse's own placement of NULLs (smallest) and its case-insensitive
text order agree with PostgreSQL's; otherwise rows are sorted here.
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Capabilities, Column, NativeRequest, Pushdown, ScanRequest, TableInfo
from connectors.crm import odata
from connectors.crm.lowering import classify as lower_classify
from connectors.crm.salesforce import _in_filter, _nulls_first, _sort_locally
from federation.errors import SourceError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from federation.config.model import SourceConfig

API = "/api/data/v9.2"
MAX_URL = 32_768
MAX_PAGE = 5000


def arrow_type(atype: str, type_name: str = "") -> pa.DataType | None:
    import pyarrow as pa

    if type_name == "MultiSelectPicklistType":
        return pa.list_(pa.int32())
    table = {
        "String": pa.string(), "Memo": pa.string(), "EntityName": pa.string(), "Uniqueidentifier": pa.string(),
        "Lookup": pa.string(), "Customer": pa.string(), "Owner": pa.string(),
        "Integer": pa.int32(), "Picklist": pa.int32(), "State": pa.int32(), "Status": pa.int32(),
        "BigInt": pa.int64(), "Double": pa.float64(), "Decimal": pa.float64(), "Money": pa.float64(),
        "Boolean": pa.bool_(), "DateTime": pa.timestamp("us", tz="UTC"),
    }
    return table.get(atype)


def _kind(atype: str) -> str:
    if atype in ("String", "Memo", "EntityName"):
        return "string"
    if atype in ("Uniqueidentifier", "Lookup", "Customer", "Owner"):
        return "guid"
    if atype in ("Integer", "BigInt", "Double", "Decimal", "Money", "Picklist", "State", "Status"):
        return "number"
    return {"Boolean": "bool", "DateTime": "datetime"}.get(atype, "other")


def _describe_error(status: int, data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("code") or "") or None
    return None


class DataverseConnector:
    source_type = "dynamics365"

    def __init__(self, config: SourceConfig, workspace_dir: Path) -> None:
        from connectors.crm.http import CrmHttp

        self.name, self.config = config.name, config
        opts = config.options
        self.base_url = str(opts.get("base_url") or "").rstrip("/")
        tables = opts.get("tables") or ("contact", "account")
        self.entities = list(tables.keys()) if isinstance(tables, dict) else [str(t) for t in tables]
        self.page_size = min(max(int(opts.get("page_size") or MAX_PAGE), 1), MAX_PAGE)
        self._token: str | None = opts.get("token")
        if not self._token and not (opts.get("client_id") and opts.get("client_secret") and opts.get("token_url")):
            raise SourceError(self.name, "needs `token`, or `client_id`, `client_secret` and `token_url`; none was set",
                              hint="Set them from the environment, e.g. token: \"${DATAVERSE_TOKEN}\".")
        self.capabilities = Capabilities(supports_order=True, supports_limit=True, max_page_size=MAX_PAGE, max_in_list=2000)
        self._local = threading.local()  # per-request Prefer header (see module docstring)
        rate = opts.get("rate_limit")
        self.http = CrmHttp(
            self.name, "dynamics365", self.base_url, headers=self._headers, credential=self._token or opts.get("client_id"),
            rates={"default": float(rate)} if rate else None, timeout=float(opts.get("timeout") or 30.0),
            retry_budget=float(opts.get("retry_budget") if opts.get("retry_budget") is not None else 60.0),
            describe_error=_describe_error,
        )
        self._tables: list[TableInfo] | None = None
        self._meta: dict[str, tuple[str, str, dict[str, str]]] = {}  # table -> (entity set, pk, {prop: type})

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._fetch_token()
        h = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
             "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        prefer = getattr(self._local, "prefer", None)
        if prefer:
            h["Prefer"] = prefer
        return h

    def _fetch_token(self) -> str:
        """Entra ID client credentials: POST token_url with client_id, client_secret, scope."""
        import httpx

        form = {"grant_type": "client_credentials", "client_id": self.config.get("client_id"),
                "client_secret": self.config.get("client_secret"),
                "scope": self.config.get("scope") or f"{self.base_url}/.default"}
        try:
            resp = httpx.post(str(self.config.get("token_url")), data=form, timeout=30.0)
        except httpx.HTTPError as e:
            raise SourceError(self.name, f"could not reach the token endpoint ({type(e).__name__})") from None
        token = resp.json().get("access_token") if resp.status_code == 200 else None
        if not token:
            raise SourceError(self.name, f"Entra ID client-credentials login failed ({resp.status_code})",
                              hint="Check client_id/client_secret (never printed), token_url and scope.")
        return str(token)

    def _get(self, path: str, params: dict[str, str] | None = None, prefer: str | None = None) -> Any:
        self._local.prefer = prefer
        if path.startswith(self.base_url + "/"):
            path = path[len(self.base_url):]  # same URL, relative: keeps the host out of messages
        try:
            return self.http.request("GET", path, params=params).data
        except SourceError as e:
            text = e.message.split(": ", 1)[-1]
            if "?" in text:  # a nextLink carries $filter values (customer data): never print them
                text = re.sub(r"\?\S*", "?...", text)
            if " 401 " in e.message:
                raise SourceError(self.name, text,
                                  hint="The Dataverse token is invalid or expired; renew it (it is never printed).") from None
            if text != e.message.split(": ", 1)[-1]:
                raise type(e)(self.name, text, retriable=e.retriable, hint=e.hint) from None
            raise
        finally:
            self._local.prefer = None

    # -- discovery -----------------------------------------------------------------
    def tables(self) -> list[TableInfo]:
        if self._tables is None:
            self._tables = [self._describe(e) for e in self.entities]
        return list(self._tables)

    def _describe(self, logical: str) -> TableInfo:
        doc = self._get(f"{API}/EntityDefinitions(LogicalName='{logical}')", {
            "$select": "LogicalName,EntitySetName,PrimaryIdAttribute",
            "$expand": "Attributes($select=LogicalName,AttributeType,AttributeTypeName,AttributeOf,IsValidForRead)"})
        cols, props = [], {}
        for a in doc.get("Attributes", []):
            atype = str(a.get("AttributeType"))
            tname = str((a.get("AttributeTypeName") or {}).get("Value") or "")
            typ = arrow_type(atype, tname)
            if typ is None or a.get("AttributeOf") or a.get("IsValidForRead") is False:
                continue
            prop = f"_{a['LogicalName']}_value" if atype in ("Lookup", "Customer", "Owner") else a["LogicalName"]
            props[prop] = "MultiSelect" if tname == "MultiSelectPicklistType" else atype
            cols.append(Column(prop.lower(), typ, prop, a["LogicalName"] != doc.get("PrimaryIdAttribute")))
        self._meta[logical.lower()] = (doc["EntitySetName"], doc["PrimaryIdAttribute"], props)
        return TableInfo(logical.lower(), logical, tuple(cols))

    def table(self, name: str) -> TableInfo:
        for t in self.tables():
            if t.name == name.lower():
                return t
        raise SourceError(self.name, f"has no table '{name}'", hint=did_you_mean(name, [t.name for t in self.tables()]))

    # -- pushdown ----------------------------------------------------------------------
    def dialect(self, table: TableInfo) -> odata.ODataDialect:
        props = self._meta[table.name][2]
        return odata.ODataDialect({c.name: (c.native_name, _kind(props.get(c.native_name, ""))) for c in table.columns})

    def classify(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        from connectors.crm.predicates import atom

        verdict = lower_classify(predicate, self.dialect(table))
        long = verdict != "unsupported" and len(odata.render([predicate], self.dialect(table)) or "") > MAX_URL // 2
        if long and not ((a := atom(predicate)) is not None and a.op == "in"):
            return "unsupported"  # long IN lists are split by scan
        return verdict  # type: ignore[return-value]

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        return False  # $apply aggregation is not pushed (50k cap, no distinct count)

    def _plan(self, request: ScanRequest) -> tuple[str, list[dict[str, str]], str | None, list[Column], Any]:
        """(path, query options per request, Prefer header, columns, order keys to apply here or None).

        Several option sets when the URL would pass 32,768 characters: the longest IN
        list is cut into disjoint chunks; ORDER BY/LIMIT then finish here."""
        table = self.table(request.table or "")
        entity_set, _pk, props = self._meta[table.name]
        cols = [table.column(c) for c in (request.columns or request.output_names)]
        if any(c is None for c in cols):
            raise SourceError(self.name, f"table {table.name} has no column in {request.columns}")
        filters = list(request.filters)
        if request.key_filter is not None and len(request.key_filter.keys) <= (self.capabilities.max_in_list or 0):
            kf = _in_filter(request.key_filter)
            if self.classify(kf, table) != "unsupported":  # an optimisation only: skip keys the API cannot take
                filters.append(kf)
        keys = [(table.column(o.this.name), bool(o.args.get("desc")), _nulls_first(o)) for o in request.order_by]
        local = any(props.get(c.native_name) in ("String", "Memo") or nf == d for c, d, nf in keys)  # type: ignore[union-attr]
        limit = None if local else request.limit
        path = f"{API}/{entity_set}"

        def build(fs: list[exp.Expression]) -> dict[str, str]:
            params = {"$select": ",".join(dict.fromkeys(c.native_name for c in cols))}  # type: ignore[union-attr]
            dialect = self.dialect(table)
            flt = odata.render(fs, dialect)
            if flt:
                params["$filter"] = flt
                params.update(dialect.aliases)
            if keys and not local:
                params["$orderby"] = ",".join(f"{c.native_name} {'desc' if d else 'asc'}" for c, d, _n in keys)  # type: ignore[union-attr]
            if limit is not None and limit <= MAX_PAGE:
                params["$top"] = str(limit)
            return params

        plist = [build(filters)]
        if self._url_len(path, plist[0]) > MAX_URL:
            from connectors.crm.lowering import split_in_lists

            try:
                plist = [build(fs) for fs in split_in_lists(filters, lambda fs: self._url_len(path, build(fs)) <= MAX_URL)]
            except ValueError:
                raise SourceError(self.name, f"the request for {path} would pass Dataverse's {MAX_URL}-character URL limit",
                                  hint="Use fewer or shorter IN lists in the query.") from None
            local = local or (len(plist) > 1 and bool(keys))
        # $top is ignored when maxpagesize is sent, so a LIMIT that fits one page goes without it
        prefer = None if "$top" in plist[0] else f"odata.maxpagesize={self.page_size}"
        return path, plist, prefer, cols, (keys if local else None)  # type: ignore[return-value]

    def _url_len(self, path: str, params: dict[str, str]) -> int:
        from urllib.parse import urlencode

        return len(self.base_url) + len(path) + 1 + len(urlencode(params))

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        from urllib.parse import urlencode

        path, plist, prefer, _cols, _local = self._plan(request)
        out = []
        for params in plist:
            count_params = {k: v for k, v in params.items() if k not in ("$orderby", "$top")} | {"$count": "true"}
            doc = self._get(path, count_params, prefer="odata.maxpagesize=1")
            total = int(doc.get("@odata.count", 0))
            if request.limit is not None:
                total = min(total, request.limit)
            per_page = int(params["$top"]) if "$top" in params else self.page_size
            detail: dict[str, Any] = {"estimated_requests": max(1, math.ceil(total / max(per_page, 1))), "page_size": per_page}
            if prefer:
                detail["headers"] = {"Prefer": prefer}
            query = urlencode(params, safe="$,@()='")
            out.append(NativeRequest("http", method="GET", path=f"{path}?{query}", detail=detail))
        return out

    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        import pyarrow as pa

        path, plist, prefer, cols, local = self._plan(request)
        schema = pa.schema([pa.field(n, c.type) for n, c in zip(request.output_names, cols)])
        limit = None if local else request.limit
        batches = (b for params in plist for b in self._pages(path, params, prefer, cols, schema, limit))
        if local is None:
            return pa.RecordBatchReader.from_batches(schema, batches)
        return _sort_locally(pa.Table.from_batches(list(batches), schema), request, local).to_reader()

    def _pages(self, path: str, params: dict[str, str], prefer: str | None, cols: list[Column], schema: pa.Schema, limit: int | None):  # type: ignore[no-untyped-def]
        import pyarrow as pa

        doc = self._get(path, params, prefer)
        seen = 0
        while True:
            rows = doc.get("value") or []
            if limit is not None:
                rows = rows[: max(0, limit - seen)]
            seen += len(rows)
            yield pa.RecordBatch.from_arrays([self._column(rows, c) for c in cols], schema=schema)
            nxt = doc.get("@odata.nextLink")
            if not nxt or (limit is not None and seen >= limit):
                return
            doc = self._get(nxt, None, prefer)  # replayed unchanged, same maxpagesize

    def _column(self, rows: list[dict[str, Any]], c: Column) -> pa.Array:
        import pyarrow as pa

        from connectors.crm.types import WireTypeError, to_arrow

        if rows and any(c.native_name not in r for r in rows):
            raise SourceError(self.name, f"the response has no property '{c.native_name}' (schema drift?)",
                              hint="The column may have been renamed or removed; re-run `cdp sources describe`.")
        values = [r.get(c.native_name) for r in rows]
        if pa.types.is_list(c.type):
            return pa.array([None if v is None else [int(x) for x in str(v).split(",") if x] for v in values], c.type)
        try:
            return to_arrow(values, c.type, column=c.name)
        except WireTypeError as e:
            raise SourceError(self.name, str(e), hint="The column's type changed since discovery; re-run `cdp sources describe`.") from None

    def check(self) -> None:
        self._get(f"{API}/EntityDefinitions(LogicalName='{self.entities[0]}')", {"$select": "LogicalName"})

    def close(self) -> None:
        self.http.close()
