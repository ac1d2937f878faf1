"""Single-module GROUP BY queries pushed to COQL aggregates (CRM-PROTOCOLS 4.2).

Accepted: ``SELECT g.., AGG(..) [AS a] FROM module [WHERE exact conjuncts] GROUP BY g..``
with 1–4 group keys on id, lookup-id, number, date or boolean columns and 1–5 of
COUNT(*), COUNT(col), SUM/AVG/MIN/MAX(number col). Refused (the engine aggregates in
Arrow): text group keys (Zoho groups text ignoring case), text MIN/MAX, DISTINCT,
HAVING, ORDER BY, LIMIT, joins, global aggregates without GROUP BY (COQL answers 204
where SQL returns one row), and any WHERE conjunct that is not exact.

Result keys: group fields by API name (a lookup as ``{name, id}``), aggregates as
``FUNC(Field)``, the emulator's rendering [U: unverified against a live org].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from connectors.crm import coql

if TYPE_CHECKING:
    import pyarrow as pa

    from connectors.base import ScanRequest
    from connectors.crm.zoho import ZohoConnector

AGGS = {exp.Sum: "SUM", exp.Avg: "AVG", exp.Min: "MIN", exp.Max: "MAX", exp.Count: "COUNT"}
GROUPABLE = ("id", "number", "date", "bool")


@dataclass(frozen=True)
class AggPlan:
    query: str  # COQL without LIMIT/OFFSET
    outputs: tuple[tuple[str, str, str | None, Any], ...]  # (output name, result key, lookup subkey, Arrow type)


def plan_aggregate(conn: ZohoConnector, q: exp.Expression) -> AggPlan | None:
    try:
        return _plan(conn, q)
    except (KeyError, ValueError, AttributeError, TypeError):
        return None


def _plan(conn: ZohoConnector, q: exp.Expression) -> AggPlan | None:
    if not isinstance(q, exp.Select) or any(q.args.get(k) for k in ("joins", "having", "distinct", "with_", "offset", "order", "limit")):
        return None
    frm, group = q.args.get("from_"), q.args.get("group")
    if frm is None or not isinstance(frm.this, exp.Table) or group is None or q.find(exp.Window, exp.Subquery):
        return None
    info = conn.table(frm.this.name)
    fields, spec = conn.fields(info), conn.specs[info.name]
    keys = []
    for g in group.expressions:
        f = fields.get(g.name.lower()) if isinstance(g, exp.Column) else None
        if f is None or f.kind not in GROUPABLE:
            return None
        keys.append(g.name.lower())
    if not 1 <= len(keys) <= 4 or len(set(keys)) != len(keys):
        return None
    items: list[str] = []
    outputs = []
    for sel in q.expressions:
        name, inner = sel.alias_or_name, sel.this if isinstance(sel, exp.Alias) else sel
        if isinstance(inner, exp.Column):
            col = inner.name.lower()
            if col not in keys:
                return None
            api, sub, _dt = spec[col]
            items.append(api)
            outputs.append((name, api, sub, info.column(col).type))  # type: ignore[union-attr]
            continue
        agg = _agg(inner, fields, info)
        if agg is None:
            return None
        items.append(agg[0])
        outputs.append((name, agg[0], None, agg[1]))
    n_aggs = sum(1 for o in outputs if "(" in o[1])
    if not 1 <= n_aggs <= 5 or len(set(items)) != len(items):
        return None
    where = _where(q, fields)
    if where is None:
        return None
    group_by = list(dict.fromkeys(spec[k][0] for k in keys))
    text = f"select {', '.join(items)} from {info.native_name} where {where} group by {', '.join(group_by)}"
    return AggPlan(text, tuple(outputs))


def _agg(e: exp.Expression, fields: dict[str, coql.Field], info: Any) -> tuple[str, Any] | None:
    import pyarrow as pa

    func = next((n for cls, n in AGGS.items() if type(e) is cls), None)
    if func is None:
        return None
    arg = e.this
    if func == "COUNT":
        if isinstance(arg, exp.Star):
            return "COUNT(id)", pa.int64()
        if isinstance(arg, exp.Distinct):
            return None
    if not isinstance(arg, exp.Column):
        return None
    f = fields.get(arg.name.lower())
    if f is None or (func != "COUNT" and f.kind != "number") or (func == "COUNT" and f.kind == "other"):
        return None
    col_type = info.column(arg.name).type
    if func == "COUNT":
        return f"COUNT({f.path})", pa.int64()
    if func == "AVG" or pa.types.is_floating(col_type):
        return f"{func}({f.path})", pa.float64()
    return f"{func}({f.path})", pa.int64()


def _where(q: exp.Select, fields: dict[str, coql.Field]) -> str | None:
    from connectors.crm.predicates import conjuncts

    w = q.args.get("where")
    parts, total = [], 0
    for c in conjuncts(w.this if w is not None else None):
        c = c.transform(lambda n: exp.column(n.name) if isinstance(n, exp.Column) else n)  # columns are alias-qualified
        r = coql.render(c, fields)
        if r is None or not r[0].exact:
            return None
        parts.append(r[0].text)
        total += r[1]
    if total > coql.MAX_CRITERIA:
        return None
    return coql.pair("and", parts) if parts else "id is not null"


def scan_aggregate(conn: ZohoConnector, request: ScanRequest) -> pa.RecordBatchReader:
    import pyarrow as pa

    from connectors.crm.types import to_arrow

    plan = plan_aggregate(conn, request.query)  # type: ignore[arg-type]
    if plan is None:
        from federation.errors import SourceError

        raise SourceError(conn.name, "this aggregate query cannot run in Zoho (accepts() said no)")
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:  # groups page like records: limit/offset until more_records is false
        text = coql.select_raw(plan.query, conn.page_size, offset)
        status, doc = conn.call("POST", "/crm/v7/coql", json={"select_query": text})
        page = [] if status == 204 or not doc else list(doc.get("data") or [])
        rows += page
        if not page or not ((doc or {}).get("info") or {}).get("more_records"):
            break
        offset += len(page)
    arrays, names = [], []
    for (name, key, sub, type_), out in zip(plan.outputs, request.output_names):
        vals = [r.get(key) for r in rows]
        if sub is not None:
            vals = [v.get(sub) if isinstance(v, dict) else v for v in vals]
        if pa.types.is_integer(type_):
            vals = [None if v is None else round(float(v)) for v in vals]
        arrays.append(to_arrow(vals, type_, column=name))
        names.append(out)
    schema = pa.schema([pa.field(n, a.type) for n, a in zip(names, arrays)])
    return pa.RecordBatchReader.from_batches(schema, [pa.RecordBatch.from_arrays(arrays, schema=schema)])
