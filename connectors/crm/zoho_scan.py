"""Plan and run one Zoho scan: which COQL queries, in which order, and how to page.

Paging (CRM-PROTOCOLS 4.2): ``limit n offset m`` with n ≤ ``page_size`` (2000) and
m + n ≤ ``max_rows`` (100,000). Unordered scans sort by id; when the next page would
pass the offset cap, the query restarts at offset 0 with ``id > '<last id>'`` added
(a keyset), so every matching row is read. A pushed ORDER BY (one non-text key, with
a LIMIT no larger than the cap) runs as two phases, ``key is not null`` ordered by
(key, id) and ``key is null`` ordered by id, in PostgreSQL's NULL order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.crm import coql
from connectors.crm.local import filter_table, nulls_first
from federation.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from connectors.base import Column, ScanRequest, TableInfo
    from connectors.crm.zoho import ZohoConnector


@dataclass
class Phase:
    where: str
    order: list[tuple[str, bool]]
    keyset: bool  # may restart from id > last when the offset cap is near


@dataclass
class ZohoPlan:
    module: str
    info: TableInfo
    columns: list[Column]  # one per output name
    fetch: list[Column]  # outputs plus columns the local filters read
    api_fields: list[str]
    phases: list[Phase]
    limit: int | None
    page_size: int
    max_rows: int
    local_filters: list[exp.Expression] = field(default_factory=list)
    local_order: list[tuple[str, bool, bool]] | None = None
    where: str = "id is not null"
    out_limit: int | None = None  # the request's LIMIT (``limit`` is what the API is asked for)

    def query(self, ph: Phase, n: int, offset: int, after: str | None = None) -> str:
        where = coql.pair("and", [ph.where, f"id > {coql.quote(after)}"]) if after else ph.where
        return coql.select(self.module, self.api_fields, where, ph.order, n, offset)

    def first_queries(self) -> list[str]:
        n = self.page_size if self.limit is None else max(1, min(self.page_size, self.limit))
        return [self.query(ph, n, 0) for ph in self.phases]

    def count_query(self) -> str:
        return f"select COUNT(id) from {self.module} where {self.where}"

    def estimate(self, total: int) -> int:
        if self.limit is not None:
            total = min(total, self.limit)
        return max(1, math.ceil(total / self.page_size)) + (len(self.phases) - 1)


def plan_scan(conn: ZohoConnector, info: TableInfo, request: ScanRequest) -> ZohoPlan:
    fields = conn.fields(info)
    columns = [_col(conn, info, n) for n in (request.columns or request.output_names)]
    pushed, local, budget = [], [], coql.MAX_CRITERIA - coql.RESERVED
    for f in request.filters:
        r = coql.render(f, fields)
        if r is None:
            local.append(f)  # declared exact earlier but not renderable now: never silently drop it
        elif r[1] <= budget:
            pushed.append(r[0].text)
            budget -= r[1]
        elif r[0].exact:
            local.append(f)  # over the 25-criteria cap: applied in Arrow
    # a dynamic-filter key list only narrows the fetch (the join still runs), so a superset
    # (text IN, case-insensitive) is fine, and one that does not fit is simply not sent
    kf = _key_filter(request, fields, conn) if request.key_filter is not None else None
    r = coql.render(kf, fields) if kf is not None else None
    if r is not None and r[1] <= budget:
        pushed.append(r[0].text)
    where = coql.pair("and", pushed) if pushed else "id is not null"
    fetch = list(columns)
    for f in local:
        for c in f.find_all(_column_type()):
            col = info.column(c.name)
            if col is not None and col not in fetch:
                fetch.append(col)
    api_fields = list(dict.fromkeys(c.native_name for c in fetch if c.native_name != "id")) or ["id"]
    keys = [(_col(conn, info, o.this.name), bool(o.args.get("desc")), nulls_first(o)) for o in request.order_by]
    plan = ZohoPlan(info.native_name, info, columns, fetch, api_fields, [], None if local else request.limit,
                    conn.page_size, conn.max_rows, local, None, where, request.limit)
    _order_phases(plan, keys, fields, bool(local))
    return plan


def _order_phases(plan: ZohoPlan, keys: list[tuple[Column, bool, bool]], fields: dict[str, coql.Field], local: bool) -> None:
    """Push ORDER BY + LIMIT when it is exact; otherwise read by id and sort in Arrow."""
    by_id = Phase(plan.where, [("id", False)], True)
    key = keys[0] if len(keys) == 1 else None
    f = fields.get(key[0].name) if key else None
    pushable = (
        key is not None and f is not None and f.kind in ("id", "number", "date", "datetime")
        and plan.limit is not None and plan.limit <= plan.max_rows and not local
    )
    if not keys:
        plan.phases = [by_id]
        return
    if not pushable:
        plan.phases = [by_id]
        plan.limit = None  # every row is needed to sort here
        plan.local_order = [(c.name, d, nf) for c, d, nf in keys]
        return
    col, desc, nf = key  # type: ignore[misc]
    path = f.path  # type: ignore[union-attr]
    if path == "id":
        plan.phases = [Phase(plan.where, [("id", desc)], False)]
        return
    not_null = Phase(coql.pair("and", [plan.where, f"{path} is not null"]), [(path, desc), ("id", False)], False)
    null = Phase(coql.pair("and", [plan.where, f"{path} is null"]), [("id", False)], False)
    plan.phases = [null, not_null] if nf else [not_null, null]


def _column_type() -> type:
    from sqlglot import exp

    return exp.Column


def _col(conn: ZohoConnector, info: TableInfo, name: str) -> Column:
    col = info.column(name)
    if col is None:
        raise SourceError(conn.name, f"module {info.native_name} has no field '{name}'",
                          hint="Re-run `cdp sources describe` if the module changed.")
    return col


def _key_filter(request: ScanRequest, fields: dict[str, coql.Field], conn: ZohoConnector) -> exp.Expression | None:
    from sqlglot import exp

    kf = request.key_filter
    f = fields.get(kf.column.lower()) if kf else None
    if kf is None or f is None or f.kind not in ("id", "number", "text") or len(kf.keys) > (conn.capabilities.max_in_list or 0):
        return None
    vals = [v for v in kf.keys.to_pylist() if v is not None and v != ""]
    if not vals:
        return exp.false()
    return exp.In(this=exp.column(kf.column), expressions=[
        exp.Literal.string(v) if isinstance(v, str) else exp.Literal.number(v) for v in vals])


def read_pages(conn: ZohoConnector, plan: ZohoPlan, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """One RecordBatch per COQL page, phase after phase, until the limit or the end."""
    seen = fetched = 0
    cut = None if plan.local_order is not None else plan.out_limit  # a local sort applies the limit itself
    for ph in plan.phases:
        for rows in _phase_pages(conn, plan, ph, fetched):
            fetched += len(rows)
            batch = _to_batch(conn, plan, rows, schema)
            if cut is not None:
                batch = batch.slice(0, max(0, cut - seen))
            seen += batch.num_rows
            yield batch
            if cut is not None and seen >= cut:
                return


def _phase_pages(conn: ZohoConnector, plan: ZohoPlan, ph: Phase, seen: int) -> Iterator[list[dict[str, Any]]]:
    offset, after = 0, None
    while True:
        n = plan.page_size if plan.limit is None else min(plan.page_size, plan.limit - seen)
        if n <= 0:
            return
        if offset + n > plan.max_rows and not ph.keyset:
            n = plan.max_rows - offset  # only reached when limit <= max_rows
            if n <= 0:
                return
        status, doc = conn.call("POST", "/crm/v7/coql", json={"select_query": plan.query(ph, n, offset, after)})
        rows = [] if status == 204 or not doc else list(doc.get("data") or [])
        if rows:
            yield rows
        seen += len(rows)
        # more_records is the only end signal trusted: a short page is not proof of the end
        more = bool(((doc or {}).get("info") or {}).get("more_records"))
        if not rows or not more:
            return
        if ph.keyset and offset + len(rows) + plan.page_size > plan.max_rows:
            after, offset = str(rows[-1]["id"]), 0
        else:
            offset += len(rows)


def _to_batch(conn: ZohoConnector, plan: ZohoPlan, rows: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    from connectors.crm.types import WireTypeError, to_arrow

    spec = conn.specs[plan.info.name]
    arrays = []
    for c in plan.fetch:
        api, sub, _dt = spec[c.name]
        try:
            arrays.append(to_arrow([_value(r, api, sub, conn.name) for r in rows], c.type, column=c.name))
        except WireTypeError as e:
            raise SourceError(conn.name, str(e), hint="The field's type changed since discovery; re-run `cdp sources describe`.") from None
    if plan.local_filters:
        t = pa.Table.from_arrays(arrays, names=[c.name for c in plan.fetch])
        t = filter_table(conn.name, t, plan.info, plan.local_filters)
        arrays = [t.column(i).combine_chunks() for i in range(len(plan.columns))]
    return pa.RecordBatch.from_arrays(arrays[: len(plan.columns)], schema=schema)


def _value(r: dict[str, Any], api: str, sub: str | None, source: str) -> Any:
    if api not in r:
        raise SourceError(source, f"the response has no field '{api}' (schema drift?)",
                          hint="The field may have been renamed or removed in Zoho; re-run `cdp sources describe`.")
    v = r[api]
    if sub is not None:
        return v.get(sub) if isinstance(v, dict) else None
    return v
