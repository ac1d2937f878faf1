"""HubSpot CRM v3 connector (facts: ../shared/CRM-PROTOCOLS.md §1).

Tables: one per CRM object named in the ``tables`` option (default contacts,
companies, deals), discovered from ``GET /crm/v3/properties/{object}``. Columns:
``id`` (int64), every property typed by its ``type`` (number → float64, except
``hs_object_id``/``associatedcompanyid`` → int64; bool; date → date32; datetime →
timestamp[us, UTC]; enumeration → string, or list<string> when its fieldType is
``checkbox``; the rest → string), then ``createdat``, ``updatedat``, ``archived``.
HubSpot has no empty string distinct from "no value": "" reads as NULL.

Associations are separate two-column tables, present when both ends are exposed:
``contact_companies(contact_id, company_id)``, ``deal_contacts(deal_id, contact_id)``,
``deal_companies(deal_id, company_id)``, read through the list endpoint's
``associations`` parameter (no filter pushdown). Contacts also carry HubSpot's own
``associatedcompanyid`` property (the primary company), which joins directly.

Reads: without filters, ``GET /crm/v3/objects/{object}`` (100 a page, ``after``
cursor); with filters, ``POST .../search`` (200 a page, integer ``after``), always
sorted by ``hs_object_id`` so that past the 10,000-result cap the query restarts
with ``hs_object_id GT <last id>`` added to every group (never truncated).
Pushdown rules are in ``hubspot_filters``. Conjuncts that are each pushable
but together exceed the limits are split: exact ones the connector applies in
Arrow itself, inexact ones are left to the engine's re-check.

ORDER BY one numeric/date/datetime key with LIMIT ≤ the cap is sorted by HubSpot
(its one sort), reading rows with and without a value in two searches so NULLs
land where PostgreSQL puts them; other ORDER BYs are sorted here in Arrow after
the filtered read. LIMIT stops paging early when nothing is left to check
locally. A dynamic key filter (``ScanRequest.key_filter``) becomes IN filters of
at most ``max_in_list`` (100) values.

Options (registry): base_url, token, tables, rate_limit (10/s), search_rate_limit
(4.5/s), timeout, retry_budget, max_filter_groups/max_filters_per_group/
max_filters_total (5/6/18), search_result_cap (10,000), search_page_size (200),
list_page_size (100), push_like. ``request_stats()`` reports requests, retries,
bytes and seconds for explain --analyze.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Capabilities, Column, NativeRequest, Pushdown, ScanRequest, TableInfo
from connectors.crm import hubspot_filters as hf
from federation.errors import ConfigError, Problem, SourceError

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from connectors.crm.http import CrmHttp
    from federation.config.model import SourceConfig

DEFAULT_OBJECTS = ("contacts", "companies", "deals")
INT_PROPERTIES = frozenset({"hs_object_id", "associatedcompanyid"})
TOP_LEVEL = {"id": "id", "createdat": "createdAt", "updatedat": "updatedAt", "archived": "archived"}
ASSOCIATIONS = {
    "contact_companies": ("contacts", "companies"),
    "deal_contacts": ("deals", "contacts"),
    "deal_companies": ("deals", "companies"),
}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
SEARCH_SORT = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]


def _describe_error(status: int, body: Any) -> str | None:
    # only HubSpot's category/errorType: messages may echo customer values
    if isinstance(body, dict):
        code = body.get("category") or body.get("errorType")
        return str(code) if code else None
    return None


@dataclass
class _Plan:
    info: TableInfo
    fetch: list[str]  # SQL columns to read (output + those local filters need)
    groups: list[list[dict[str, Any]]] | None  # None: list endpoint
    local: list[exp.Expression] = field(default_factory=list)  # exact filters applied in Arrow
    key_chunks: list[dict[str, Any]] = field(default_factory=list)  # IN filters from a dynamic key filter
    top: tuple[str, bool, bool] | None = None  # ORDER BY one key + LIMIT at the source: (property, desc, nulls first)


class HubSpotConnector:
    source_type = "hubspot"

    def __init__(self, config: SourceConfig, workspace_dir: Path) -> None:
        self.name = config.name
        self.config = config
        get = config.get
        self._token = get("token")
        if not self._token:
            raise ConfigError([Problem(config.location, f"source '{self.name}' needs a token", "Add `token: ${HUBSPOT_TOKEN}` and set HUBSPOT_TOKEN.")])
        self.base_url = str(get("base_url", "https://api.hubapi.com")).rstrip("/")
        tables = get("tables") or DEFAULT_OBJECTS
        self.objects = tuple(str(t) for t in (tables.keys() if isinstance(tables, dict) else tables))
        self.limits = hf.Limits(
            int(get("max_filter_groups", 5)), int(get("max_filters_per_group", 6)), int(get("max_filters_total", 18))
        )
        self.rules = hf.Rules(push_like=bool(get("push_like", True)))
        self.search_cap = int(get("search_result_cap", 10_000))
        self.search_page = int(get("search_page_size", 200))
        self.list_page = int(get("list_page_size", 100))
        self.capabilities = Capabilities(
            supports_projection=True,
            supports_filter=True,
            supports_limit=True,
            supports_order=True,
            max_page_size=self.search_page,
            max_in_list=100,
        )
        self._http: CrmHttp | None = None
        self._lock = threading.Lock()
        self._tables: dict[str, TableInfo] | None = None
        self._kinds: dict[str, dict[str, str]] = {}

    def __repr__(self) -> str:
        return f"HubSpotConnector(name={self.name!r}, base_url={self.base_url!r}, token='[secure]')"

    # -- plumbing --------------------------------------------------------------------------
    @property
    def http(self) -> CrmHttp:
        with self._lock:
            if self._http is None:
                self._http = self._make_http()
        return self._http

    def _make_http(self) -> CrmHttp:
        from connectors.crm.http import CrmHttp

        get, token = self.config.get, self._token
        rate = get("rate_limit")
        return CrmHttp(
            self.name,
            "hubspot",
            self.base_url,
            headers=lambda: {"Authorization": f"Bearer {token}"},
            credential=token,
            rates={"default": float(rate) if rate else 10.0, "search": float(get("search_rate_limit", 4.5))},
            timeout=float(get("timeout", 30.0)),
            retry_budget=float(get("retry_budget", 60.0)),
            describe_error=_describe_error,
        )

    def request_stats(self) -> dict[str, Any]:
        """Requests, retries, bytes and seconds spent so far (for explain --analyze)."""
        return self.http.stats.snapshot()

    def check(self) -> None:
        self.http.request("GET", f"/crm/v3/objects/{self.objects[0]}", params={"limit": 1})

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- discovery --------------------------------------------------------------------------
    def tables(self) -> list[TableInfo]:
        if self._tables is None:
            import pyarrow as pa

            found: dict[str, TableInfo] = {}
            for obj in self.objects:
                data = self.http.request("GET", f"/crm/v3/properties/{obj}").data or {}
                info = self._object_info(obj, data.get("results") or [])
                if self.config.get("estimate_rows", True):
                    # one search with limit 1: its `total` guides dynamic filtering and explain
                    info = dataclasses.replace(info, row_estimate=self._count(obj, None))
                found[obj.lower()] = info
            for name, (a, b) in ASSOCIATIONS.items():
                if a in self.objects and b in self.objects:
                    cols = (Column(f"{SINGULAR[a]}_id", pa.int64(), "id", False), Column(f"{SINGULAR[b]}_id", pa.int64(), b, False))
                    found[name] = TableInfo(name, a, cols, description=f"associations {a} → {b}")
                    self._kinds[name] = {}
            self._tables = found
        return list(self._tables.values())

    def _object_info(self, obj: str, props: list[dict[str, Any]]) -> TableInfo:
        import pyarrow as pa

        from connectors.crm.types import timestamp_type

        cols = [Column("id", pa.int64(), "id", False)]
        kinds = {"id": "id"}
        for p in props:
            name = str(p.get("name", ""))
            if not name or p.get("archived") or name.lower() in TOP_LEVEL:
                continue
            kind, type_ = hf.property_kind(p, name in INT_PROPERTIES)
            cols.append(Column(name.lower(), type_, name, description=p.get("label")))
            kinds[name.lower()] = kind
        cols += [
            Column("createdat", timestamp_type(), "createdAt", False),
            Column("updatedat", timestamp_type(), "updatedAt", False),
            Column("archived", pa.bool_(), "archived", False),
        ]
        kinds.update(createdat="meta", updatedat="meta", archived="meta")
        self._kinds[obj.lower()] = kinds
        return TableInfo(obj.lower(), obj, tuple(cols))

    def _info(self, table: str) -> TableInfo:
        self.tables()
        assert self._tables is not None
        info = self._tables.get(table.lower())
        if info is None:
            raise SourceError(self.name, f"no table '{table}'", hint=f"Tables: {', '.join(sorted(self._tables))}.")
        return info

    # -- pushdown --------------------------------------------------------------------------
    def classify(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        info = self._info(table.name)
        if info.name in ASSOCIATIONS:
            return "unsupported"
        tr = hf.translate(predicate, info, self._kinds[info.name], self.limits, self.rules)
        if tr is None:
            return "unsupported"
        return "exact" if tr.exact else "inexact"

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        return False

    def _plan(self, request: ScanRequest) -> _Plan:
        info = self._info(request.table or "")
        kinds = self._kinds[info.name]
        groups: list[list[dict[str, Any]]] = [[]]
        local: list[exp.Expression] = []
        for f in request.filters:
            tr = hf.translate(f, info, kinds, self.limits, self.rules)
            merged = [a + b for a in groups for b in tr.groups] if tr is not None else None
            if merged is not None and hf.fits(merged, self.limits):
                groups = merged
            elif tr is None or tr.exact:
                local.append(f)  # must still hold: apply it here, in Arrow
            # an inexact filter that does not fit is simply not sent: the engine re-checks it
        fetch = list(request.columns) or ["id"]
        for f in local:
            for c in _columns(f):
                col = info.column(c)
                if col is not None and col.name not in fetch:
                    fetch.append(col.name)
        for o in request.order_by:
            for c in _columns(o):
                col = info.column(c)
                if col is not None and col.name not in fetch:
                    fetch.append(col.name)
        chunks = self._key_chunks(request, info, groups)
        plan = _Plan(info, fetch, groups if groups != [[]] else None, local, chunks)
        plan.top = self._native_top(request, plan)
        return plan

    def _native_top(self, request: ScanRequest, plan: _Plan) -> tuple[str, bool, bool] | None:
        """ORDER BY <one numeric/date key> LIMIT n, sorted by HubSpot (else sorted here after a full read).

        HubSpot's NULL placement is not documented, so rows with and without a value
        are fetched by separate searches (HAS_PROPERTY / NOT_HAS_PROPERTY), in
        PostgreSQL's order: NULLs last ascending, first descending, unless NULLS says otherwise."""
        if len(request.order_by) != 1 or request.limit is None or request.limit > self.search_cap or plan.local or plan.key_chunks:
            return None
        o = request.order_by[0]
        col = plan.info.column(o.this.name) if isinstance(o.this, sexp_column()) else None
        kind = self._kinds[plan.info.name].get(col.name) if col is not None else None
        if col is None or kind not in ("id", "number", "date", "datetime"):
            return None
        prop = "hs_object_id" if kind == "id" else col.native_name
        probe = [g + [{"propertyName": prop, "operator": "HAS_PROPERTY"}] for g in (plan.groups or [[]])]
        if not hf.fits(probe, self.limits):
            return None
        desc = bool(o.args.get("desc"))
        nf = o.args.get("nulls_first")
        return prop, desc, nf if isinstance(nf, bool) else desc

    def _key_chunks(self, request: ScanRequest, info: TableInfo, groups: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """IN filters (≤ max_in_list values each) for a dynamic key filter, or [] to ignore it.

        Keys only narrow the read (the join re-checks them), so a superset is fine:
        string keys go lower-cased (HubSpot's IN rule) and de-duplicated."""
        kf = request.key_filter
        col = info.column(kf.column) if kf is not None else None
        kind = self._kinds[info.name].get(col.name) if col is not None else None
        if kf is None or col is None or kind not in ("id", "number", "string", "enumeration"):
            return []
        values = [hf.render(kind, v) for v in kf.keys.to_pylist() if v is not None]
        if any(v is None for v in values):
            return []
        keys = sorted({v.lower() if kind == "string" else v for v in values})  # type: ignore[union-attr]
        prop = "hs_object_id" if kind == "id" else col.native_name
        size = self.capabilities.max_in_list or 100
        chunks = [{"propertyName": prop, "operator": "IN", "values": keys[i : i + size]} for i in range(0, len(keys), size)]
        if not chunks or not hf.fits([g + [chunks[0]] for g in groups], self.limits):
            return []
        return chunks

    def _properties(self, plan: _Plan) -> list[str]:
        props = [plan.info.column(c).native_name for c in plan.fetch if c not in TOP_LEVEL]  # type: ignore[union-attr]
        return props or ["hs_object_id"]

    # -- explain ------------------------------------------------------------------------------
    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        info = self._info(request.table or "")
        headers = {"Authorization": "Bearer [secure]"}
        if info.name in ASSOCIATIONS:
            a, b = ASSOCIATIONS[info.name]
            params = {"limit": self.list_page, "properties": "hs_object_id", "associations": b}
            total = self._count(a, None)
            pages = None if total is None else max(1, math.ceil(total / self.list_page))
            return [NativeRequest("http", method="GET", path=f"/crm/v3/objects/{a}", detail={"params": params, "headers": headers, "estimated_requests": pages})]
        plan = self._plan(request)
        page = self._page_size(plan, request)
        n = info.row_estimate if plan.groups is None and info.row_estimate is not None else self._count(info.native_name, plan.groups)
        if n is not None and request.limit is not None and not plan.local:
            n = min(n, request.limit)
        detail: dict[str, Any] = {"headers": headers, "estimated_rows": n}
        if plan.local:
            detail["applied_by_connector"] = [f.sql(dialect="postgres") for f in plan.local]
        if plan.top is not None:
            prop, desc, nulls_first = plan.top
            detail["top_n"] = {"property": prop, "descending": desc, "nulls_first": nulls_first, "limit": request.limit}
            detail["estimated_requests"] = max(1, math.ceil(min(n if n is not None else request.limit or 0, request.limit or 0) / page))
            sort = [{"propertyName": prop, "direction": "DESCENDING" if desc else "ASCENDING"}]
            body = {"filterGroups": _wire(plan.groups or []), "properties": self._properties(plan), "sorts": sort, "limit": page}
            return [NativeRequest("http", method="POST", path=f"/crm/v3/objects/{info.native_name}/search", body=body, detail=detail)]
        if plan.groups is None:
            detail["params"] = {"limit": page, "properties": ",".join(self._properties(plan))}
            detail["estimated_requests"] = None if n is None else max(1, math.ceil(n / page))
            return [NativeRequest("http", method="GET", path=f"/crm/v3/objects/{info.native_name}", detail=detail)]
        body = {"filterGroups": _wire(plan.groups), "properties": self._properties(plan), "sorts": SEARCH_SORT, "limit": page}
        if n is not None:
            per_chunk = max(page, (self.search_cap // page) * page)
            detail["estimated_requests"] = max(1, math.ceil(n / page))
            detail["cap_splits"] = max(0, math.ceil(n / per_chunk) - 1)
        return [NativeRequest("http", method="POST", path=f"/crm/v3/objects/{info.native_name}/search", body=body, detail=detail)]

    def _count(self, obj: str, groups: list[list[dict[str, Any]]] | None) -> int | None:
        """Matching rows from the search endpoint's ``total`` (one request, limit 1)."""
        try:
            data = self.http.request("POST", f"/crm/v3/objects/{obj}/search", json={"filterGroups": _wire(groups or []), "limit": 1}, lane="search").data
        except SourceError:
            return None
        total = (data or {}).get("total")
        return int(total) if total is not None else None

    def _page_size(self, plan: _Plan, request: ScanRequest) -> int:
        page = self.list_page if plan.groups is None and not plan.key_chunks and not plan.top else self.search_page
        if request.limit is not None and not plan.local and (plan.top or not request.order_by):
            page = max(1, min(page, request.limit))
        return page

    # -- reading ------------------------------------------------------------------------------
    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        import pyarrow as pa

        info = self._info(request.table or "")
        if info.name in ASSOCIATIONS:
            return self._scan_associations(info, request)
        plan = self._plan(request)
        fields = [pa.field(c, info.column(c).type) for c in plan.fetch]  # type: ignore[union-attr]
        keep = len(request.columns) if request.columns else 1
        names = request.output_names if request.columns else plan.fetch[:1]
        out_schema = pa.schema([f.with_name(n) for f, n in zip(fields[:keep], names)])
        if request.limit == 0:
            return pa.RecordBatchReader.from_batches(out_schema, iter(()))
        batches = self._batches(plan, request, pa.schema(fields))
        if request.order_by and plan.top is None:
            from connectors.crm.predicates import sort_limit

            table = pa.Table.from_batches(list(batches), schema=pa.schema(fields))
            table = sort_limit(table, request.order_by, request.limit)
            batches = iter(table.to_batches())
        renamed = (pa.RecordBatch.from_arrays(b.columns[:keep], schema=out_schema) for b in batches)
        return pa.RecordBatchReader.from_batches(out_schema, renamed)

    def _batches(self, plan: _Plan, request: ScanRequest, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        from connectors.crm.predicates import evaluate

        obj, props = plan.info.native_name, self._properties(plan)
        page = self._page_size(plan, request)
        if plan.top is not None:
            pages = self._top_pages(obj, plan.groups or [], props, page, plan.top, request.limit or 0)
        elif plan.key_chunks:
            base = plan.groups or [[]]
            pages = (p for chunk in plan.key_chunks for p in self._search_pages(obj, [g + [chunk] for g in base], props, page))
        elif plan.groups is None:
            pages = self._list_pages(obj, props, page)
        else:
            pages = self._search_pages(obj, plan.groups, props, page)
        left = request.limit if plan.top is not None or not request.order_by else None
        for records in pages:
            batch = self._to_batch(records, plan, schema)
            for f in plan.local:
                batch = batch.filter(evaluate(f, batch))
            if left is not None:
                batch = batch.slice(0, left)
                left -= batch.num_rows
            if batch.num_rows:
                yield batch
            if left is not None and left <= 0:
                return

    def _list_pages(self, obj: str, props: list[str], page: int, assoc: str | None = None) -> Iterator[list[dict[str, Any]]]:
        params: dict[str, Any] = {"limit": page, "properties": ",".join(props), "archived": "false"}
        if assoc:
            params["associations"] = assoc
        while True:
            data = self.http.request("GET", f"/crm/v3/objects/{obj}", params=params).data or {}
            yield data.get("results") or []
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            params["after"] = after

    def _top_pages(
        self, obj: str, groups: list[list[dict[str, Any]]], props: list[str], page: int, top: tuple[str, bool, bool], limit: int
    ) -> Iterator[list[dict[str, Any]]]:
        prop, desc, nulls_first = top
        sort = [{"propertyName": prop, "direction": "DESCENDING" if desc else "ASCENDING"}]
        if prop == "hs_object_id":  # never empty
            yield from self._search_pages(obj, groups, props, page, sorts=sort, max_rows=limit)
            return
        has = [g + [{"propertyName": prop, "operator": "HAS_PROPERTY"}] for g in groups or [[]]]
        empty = [g + [{"propertyName": prop, "operator": "NOT_HAS_PROPERTY"}] for g in groups or [[]]]
        parts = [(empty, SEARCH_SORT), (has, sort)] if nulls_first else [(has, sort), (empty, SEARCH_SORT)]
        left = limit
        for gs, srt in parts:
            for results in self._search_pages(obj, gs, props, min(page, left), sorts=srt, max_rows=left):
                left -= len(results)
                yield results
            if left <= 0:
                return

    def _search_pages(
        self,
        obj: str,
        groups: list[list[dict[str, Any]]],
        props: list[str],
        page: int,
        sorts: list[dict[str, str]] = SEARCH_SORT,
        max_rows: int | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Search pages; past the result cap, restart above the last id seen.

        With another sort than ``hs_object_id`` (top-N), ``max_rows`` ≤ the cap ends it."""
        last_id: int | None = None
        while True:
            gt = {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}
            gs = groups if last_id is None else [g + [gt] for g in groups or [[]]]
            after = 0
            while True:
                body: dict[str, Any] = {"filterGroups": _wire(gs), "properties": props, "sorts": sorts, "limit": page}
                if after:
                    body["after"] = str(after)
                data = self.http.request("POST", f"/crm/v3/objects/{obj}/search", json=body, lane="search").data or {}
                results = data.get("results") or []
                yield results
                nxt = ((data.get("paging") or {}).get("next") or {}).get("after")
                if max_rows is not None:
                    max_rows -= len(results)
                if not results or nxt is None or (max_rows is not None and max_rows <= 0):
                    return
                after = int(nxt)
                if after + page > self.search_cap:  # the next page would be refused: split by key range
                    last_id = int(results[-1]["id"])
                    break

    def _to_batch(self, records: list[dict[str, Any]], plan: _Plan, schema: pa.Schema) -> pa.RecordBatch:
        import pyarrow as pa

        from connectors.crm.types import WireTypeError, to_arrow

        arrays = []
        for f in schema:
            native = plan.info.column(f.name).native_name  # type: ignore[union-attr]
            top = f.name in TOP_LEVEL
            if records:
                holder = records[0] if top else (records[0].get("properties") or {})
                if native not in holder:
                    raise self._drift(plan.info, f.name, native)
            if top:
                values = [r.get(native) for r in records]
            else:
                values = [((r.get("properties") or {}).get(native)) for r in records]
                values = [None if v == "" else v for v in values]
            try:
                arrays.append(to_arrow(values, f.type, column=f.name))
            except WireTypeError as e:
                raise SourceError(self.name, f"table '{plan.info.name}': {e}", hint="The property's type may have changed; rediscover the source.") from None
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _drift(self, info: TableInfo, column: str, native: str) -> SourceError:
        where = f"/crm/v3/objects/{info.native_name}"
        return SourceError(
            self.name,
            f"schema drift: field '{native}' (column {info.name}.{column}) is no longer returned by {where}; it was renamed or deleted",
            hint="Restart so the source is rediscovered, and update queries that use this column.",
        )

    def _scan_associations(self, info: TableInfo, request: ScanRequest) -> pa.RecordBatchReader:
        import pyarrow as pa

        a, b = ASSOCIATIONS[info.name]
        schema = pa.schema([pa.field(c.name, c.type, False) for c in info.columns])

        def batches() -> Iterator[pa.RecordBatch]:
            for records in self._list_pages(a, ["hs_object_id"], self.list_page, assoc=b):
                left, right = [], []
                for r in records:
                    # v3 may list one pair twice (primary + unlabeled type): keep each once
                    seen = {int(x["id"]) for x in ((r.get("associations") or {}).get(b) or {}).get("results") or []}
                    for other in sorted(seen):
                        left.append(int(r["id"]))
                        right.append(other)
                yield pa.RecordBatch.from_arrays([pa.array(left, pa.int64()), pa.array(right, pa.int64())], schema=schema)

        cols = list(request.columns) or [info.columns[0].name]
        out = pa.schema([schema.field(c).with_name(n) for c, n in zip(cols, request.output_names or cols)])
        stream: Iterator[pa.RecordBatch] = batches()
        if request.order_by or request.limit is not None:
            # the planner may push ORDER BY / LIMIT here too: honour them in Arrow
            from connectors.crm.predicates import sort_limit

            table = sort_limit(pa.Table.from_batches(list(stream), schema=schema), request.order_by, request.limit)
            stream = iter(table.to_batches())
        return pa.RecordBatchReader.from_batches(out, (pa.RecordBatch.from_arrays([b_.column(c) for c in cols], schema=out) for b_ in stream))


def _wire(groups: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"filters": g} for g in groups]


def sexp_column() -> type:
    from sqlglot import exp as sexp

    return sexp.Column


def _columns(e: exp.Expression) -> list[str]:
    from sqlglot import exp as sexp

    return [c.name for c in e.find_all(sexp.Column)]
