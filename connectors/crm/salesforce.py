"""Salesforce REST (SOQL) connector: describe → tables, filters → SOQL, queryMore → Arrow.

Options: ``base_url``; ``token`` (a session/OAuth access token) or ``client_id`` +
``client_secret`` (OAuth client-credentials flow against ``token_url``, default
``{base_url}/services/oauth2/token``); ``api_version`` (``v60.0``); ``tables``
(sObject names, default Account, Contact, Opportunity); ``batch_size`` (200..2000).

SQL names are the lower-cased API names (``contact.accountid``). Pushdown: WHERE
conjuncts (see ``soql`` for what is exact), ORDER BY on non-text fields (SOQL sorts
text ignoring case; text keys are sorted here), LIMIT, and single-object GROUP BY
aggregates through ``accepts``/``scan(query)`` (see ``salesforce_agg``).
Reads only: queries go to ``/query``; nothing is written during reads.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Capabilities, Column, NativeRequest, Pushdown, ScanRequest, TableInfo
from connectors.crm import soql
from connectors.crm.lowering import classify as lower_classify
from federation.errors import RateLimitedError, SourceError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from federation.config.model import SourceConfig

DEFAULT_OBJECTS = ("Account", "Contact", "Opportunity")
MAX_URL = 16_000  # about 16 KB of URI on a REST GET (ENGINE-NOTES)
TEXT_TYPES = {"string", "id", "reference", "picklist", "email", "phone", "url", "textarea", "combobox", "encryptedstring"}


def arrow_type(sf_type: str) -> pa.DataType:
    """The Arrow type of a describe ``type`` (currency/percent/double → float64)."""
    import pyarrow as pa

    if sf_type == "boolean":
        return pa.bool_()
    if sf_type in ("int", "long"):
        return pa.int64()
    if sf_type in ("double", "currency", "percent"):
        return pa.float64()
    if sf_type == "date":
        return pa.date32()
    if sf_type == "datetime":
        return pa.timestamp("us", tz="UTC")
    if sf_type == "multipicklist":
        return pa.list_(pa.string())
    return pa.string()


def _describe_error(status: int, data: Any) -> str | None:
    """The vendor error code from an error array (never its message: it may quote data)."""
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return str(data[0].get("errorCode") or "") or None
    return None


class SalesforceConnector:
    source_type = "salesforce"

    def __init__(self, config: SourceConfig, workspace_dir: Path) -> None:
        from connectors.crm.http import CrmHttp

        self.name = config.name
        self.config = config
        opts = config.options
        self.base_url = str(opts.get("base_url") or "").rstrip("/")
        self.version = str(opts.get("api_version") or "v60.0")
        if not self.version.startswith("v"):
            self.version = "v" + self.version
        self.batch_size = min(max(int(opts.get("batch_size") or 2000), 200), 2000)
        tables = opts.get("tables") or DEFAULT_OBJECTS
        self.objects = list(tables.keys()) if isinstance(tables, dict) else [str(t) for t in tables]
        self._token: str | None = opts.get("token")
        if not self._token and not (opts.get("client_id") and opts.get("client_secret")):
            raise SourceError(self.name, "needs `token`, or `client_id` and `client_secret`, none was set",
                              hint="Set them from the environment, e.g. token: \"${SALESFORCE_TOKEN}\".")
        self.capabilities = Capabilities(
            supports_projection=True, supports_filter=True, supports_limit=True, supports_order=True,
            supports_aggregation=True, max_page_size=2000, max_in_list=2000,
        )
        rate = opts.get("rate_limit")
        self.http = CrmHttp(
            self.name, "salesforce", self.base_url, headers=self._headers, credential=self._token or opts.get("client_id"),
            rates={"default": float(rate)} if rate else None, timeout=float(opts.get("timeout") or 30.0),
            retry_budget=float(opts.get("retry_budget") if opts.get("retry_budget") is not None else 60.0),
            describe_error=_describe_error,
        )
        self._tables: list[TableInfo] | None = None
        self._native_types: dict[str, dict[str, str]] = {}

    # -- auth ------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._fetch_token()
        return {"Authorization": f"Bearer {self._token}", "Sforce-Query-Options": f"batchSize={self.batch_size}",
                "Accept": "application/json"}

    def _fetch_token(self) -> str:
        """OAuth 2.0 client credentials (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm)."""
        import httpx

        url = str(self.config.get("token_url") or f"{self.base_url}/services/oauth2/token")
        form = {"grant_type": "client_credentials", "client_id": self.config.get("client_id"),
                "client_secret": self.config.get("client_secret")}
        try:
            resp = httpx.post(url, data=form, timeout=float(self.config.get("timeout") or 30.0))
        except httpx.HTTPError as e:
            raise SourceError(self.name, f"could not reach the OAuth token endpoint ({type(e).__name__})") from None
        token = resp.json().get("access_token") if resp.status_code == 200 else None
        if not token:
            raise SourceError(self.name, f"OAuth client-credentials login failed ({resp.status_code})",
                              hint="Check client_id/client_secret (never printed) and token_url.")
        return str(token)

    # -- requests ----------------------------------------------------------------
    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """One GET; a 403 REQUEST_LIMIT_EXCEEDED (the org's API allowance) becomes RateLimitedError."""
        try:
            return self.http.request("GET", path, params=params).data
        except RateLimitedError:
            raise
        except SourceError as e:
            if "REQUEST_LIMIT_EXCEEDED" in e.message:
                raise RateLimitedError(self.name, e.message.split(": ", 1)[-1],
                                       hint="The org's API request limit is spent; try later or raise the limit.") from None
            if "INVALID_SESSION_ID" in e.message:
                raise SourceError(self.name, e.message.split(": ", 1)[-1],
                                  hint="The Salesforce token is invalid or expired; renew it (it is never printed).") from None
            raise

    def _query_path(self) -> str:
        return f"/services/data/{self.version}/query"

    # -- discovery ---------------------------------------------------------------
    def tables(self) -> list[TableInfo]:
        if self._tables is None:
            self._tables = [self._describe(o) for o in self.objects]
        return list(self._tables)

    def _describe(self, sobject: str) -> TableInfo:
        doc = self._get(f"/services/data/{self.version}/sobjects/{sobject}/describe")
        cols = []
        native: dict[str, str] = {}
        for f in doc.get("fields", []):
            ftype = str(f.get("type", "string"))
            if ftype in ("address", "location", "complexvalue", "base64"):
                continue  # compound and binary fields are not exposed
            native[f["name"].lower()] = ftype
            desc = f"references {', '.join(f['referenceTo'])}" if f.get("referenceTo") else None
            cols.append(Column(f["name"].lower(), arrow_type(ftype), f["name"], bool(f.get("nillable", True)), desc))
        name = str(doc.get("name") or sobject)
        self._native_types[name.lower()] = native
        return TableInfo(name.lower(), name, tuple(cols))

    def table(self, name: str) -> TableInfo:
        for t in self.tables():
            if t.name == name.lower():
                return t
        hint = did_you_mean(name, [t.name for t in self.tables()])
        raise SourceError(self.name, f"has no object '{name}'", hint=hint)

    # -- pushdown --------------------------------------------------------------------
    def dialect(self, table: TableInfo) -> soql.SoqlDialect:
        return soql.SoqlDialect({c.name: (c.native_name, c.type) for c in table.columns})

    def classify(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        verdict = lower_classify(predicate, self.dialect(table))
        if verdict != "unsupported":
            from connectors.crm.predicates import atom

            text = soql.where([predicate], self.dialect(table)) or ""
            is_in = (a := atom(predicate)) is not None and a.op == "in"
            if len(text) > MAX_URL // 2 and not is_in:
                return "unsupported"  # leave room in the URL; long IN lists are split by scan
        return verdict  # type: ignore[return-value]

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        from connectors.crm.salesforce_agg import plan_aggregate

        return plan_aggregate(self, query) is not None

    # -- scan -------------------------------------------------------------------------
    def _plan(self, request: ScanRequest) -> tuple[list[str], TableInfo, list[Column], list[tuple[Column, bool, bool]] | None]:
        """(SOQL texts, table, selected columns, order keys to apply locally or None).

        One text normally; several when the GET would pass the URI limit, by cutting the
        longest IN list into disjoint chunks (ORDER BY/LIMIT then finish here)."""
        table = self.table(request.table or "")
        cols = [self._col(table, c) for c in (request.columns or request.output_names)]
        fields = list(dict.fromkeys(c.native_name for c in cols)) or ["Id"]
        filters = list(request.filters)
        if request.key_filter is not None and len(request.key_filter.keys) <= (self.capabilities.max_in_list or 0):
            kf = _in_filter(request.key_filter)
            if self.classify(kf, table) != "unsupported":  # an optimisation only: skip keys the API cannot take
                filters.append(kf)
        keys = [(self._col(table, o.this.name), bool(o.args.get("desc")), _nulls_first(o)) for o in request.order_by]
        local = any(c.native_name.lower() in self._text_fields(table) for c, _d, _n in keys)
        order = None if local or not keys else soql.order_by([(c.native_name, d, n) for c, d, n in keys])
        dialect = self.dialect(table)

        def build(fs: list[exp.Expression], limit: int | None) -> str:
            return soql.select(table.native_name, fields, soql.where(fs, dialect), order, limit)

        limit = None if local else request.limit
        texts = [build(filters, limit)]
        if self._url_len(texts[0]) > MAX_URL:
            texts = [build(fs, limit) for fs in self._split(filters, build)]
            if len(texts) > 1 and keys:
                local = True
        return texts, table, cols, (keys if local else None)

    def _url_len(self, text: str) -> int:
        from urllib.parse import quote_plus

        return len(self.base_url) + len(self._query_path()) + 3 + len(quote_plus(text))

    def _split(self, filters: list[exp.Expression], build) -> list[list[exp.Expression]]:  # type: ignore[no-untyped-def]
        from connectors.crm.lowering import split_in_lists

        try:
            return split_in_lists(filters, lambda fs: self._url_len(build(fs, None)) <= MAX_URL)
        except ValueError:
            raise SourceError(self.name, f"the SOQL query would pass the {MAX_URL}-character URI limit",
                              hint="Shorten the query's IN lists or filters on this source.") from None

    def _text_fields(self, table: TableInfo) -> set[str]:
        return {k for k, t in self._native_types.get(table.name, {}).items() if t in TEXT_TYPES}

    @staticmethod
    def _col(table: TableInfo, name: str) -> Column:
        col = table.column(name)
        if col is None:
            raise SourceError("salesforce", f"object {table.native_name} has no field '{name}'")
        return col

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        if request.query is not None:
            from connectors.crm.salesforce_agg import plan_aggregate

            plan = plan_aggregate(self, request.query)
            text = plan.soql if plan else ""
            return [NativeRequest("http", method="GET", path=f"{self._query_path()}?q={text}", detail={"estimated_requests": 1})]
        texts, table, _cols, _local = self._plan(request)
        return [NativeRequest("http", method="GET", path=f"{self._query_path()}?q={text}",
                              detail={"estimated_requests": self._estimate(text, table, request.limit),
                                      "page_size": self.batch_size}) for text in texts]

    def _estimate(self, text: str, table: TableInfo, limit: int | None) -> int:
        """Pages this query will take, from a COUNT() over the same WHERE (one extra GET)."""
        where = text.split(" WHERE ", 1)[1] if " WHERE " in text else None
        if where:
            where = where.split(" ORDER BY ")[0].split(" LIMIT ")[0]
        count_q = soql.select(table.native_name, ["COUNT()"], where)
        total = int((self._get(self._query_path(), {"q": count_q}) or {}).get("totalSize", 0))
        if limit is not None:
            total = min(total, limit)
        return max(1, math.ceil(total / self.batch_size))

    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        import pyarrow as pa

        if request.query is not None:
            from connectors.crm.salesforce_agg import scan_aggregate

            return scan_aggregate(self, request)
        texts, _table, cols, local = self._plan(request)
        schema = pa.schema([pa.field(n, c.type) for n, c in zip(request.output_names, cols)])
        limit = None if local else request.limit
        batches = (b for text in texts for b in self._pages(text, cols, schema, limit))
        if local is None:
            return pa.RecordBatchReader.from_batches(schema, batches)
        return _sort_locally(pa.Table.from_batches(list(batches), schema), request, local).to_reader()

    def _pages(self, text: str, cols: list[Column], schema: pa.Schema, limit: int | None):  # type: ignore[no-untyped-def]
        """Yield one RecordBatch per page, following nextRecordsUrl until done."""
        from connectors.crm.types import WireTypeError, to_arrow

        import pyarrow as pa

        doc = self._get(self._query_path(), {"q": text})
        seen = 0
        while True:
            records = doc.get("records") or []
            if limit is not None:
                records = records[: max(0, limit - seen)]
            seen += len(records)
            try:
                arrays = [to_arrow([_field(r, c.native_name, self.name) for r in records], c.type, column=c.name) for c in cols]
            except WireTypeError as e:
                raise SourceError(self.name, f"{e}", hint="The field's type changed since discovery; re-run `cdp sources describe`.") from None
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
            nxt = doc.get("nextRecordsUrl")
            if doc.get("done", True) or not nxt or (limit is not None and seen >= limit):
                return
            doc = self._get(nxt)

    def check(self) -> None:
        self._get(f"/services/data/{self.version}/limits")

    def close(self) -> None:
        self.http.close()


def _field(record: dict[str, Any], name: str, source: str) -> Any:
    if name in record:
        return record[name]
    for k, v in record.items():
        if k.lower() == name.lower():
            return v
    raise SourceError(source, f"the response has no field '{name}' (schema drift?)",
                      hint="The field may have been renamed or removed; re-run `cdp sources describe`.")


def _nulls_first(o: exp.Ordered) -> bool:
    nf = o.args.get("nulls_first")
    return bool(nf) if nf is not None else bool(o.args.get("desc"))  # PostgreSQL's default


def _in_filter(kf: Any) -> exp.Expression:
    from connectors.crm.lowering import in_expr

    return in_expr(kf.column, [v for v in kf.keys.to_pylist() if v is not None])


def _sort_locally(table: pa.Table, request: ScanRequest, keys: list[tuple[Column, bool, bool]]) -> pa.Table:
    """ORDER BY (PostgreSQL NULL placement) and LIMIT in Arrow, for text keys."""
    import pyarrow.compute as pc

    by_name = {c: n for n, c in zip(request.output_names, request.columns or request.output_names)}
    idx = None
    for col, desc, nulls_first in reversed(keys):
        out = by_name.get(col.name, col.name)
        arr = table.column(out).combine_chunks() if idx is None else table.column(out).take(idx).combine_chunks()
        # array_sort_indices is stable, so sorting by the last key first gives a multi-key sort
        order = pc.array_sort_indices(arr, order="descending" if desc else "ascending",
                                      null_placement="at_start" if nulls_first else "at_end")
        idx = order if idx is None else idx.take(order)
    table = table.take(idx) if idx is not None else table
    return table.slice(0, request.limit) if request.limit is not None else table
