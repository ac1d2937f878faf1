"""Single-object GROUP BY queries pushed to SOQL as AggregateResult queries.

Accepted shape: ``SELECT g.., AGG(..) AS a FROM obj [WHERE exact filters] GROUP BY g..
[ORDER BY non-text keys] [LIMIT n]`` with AGG in COUNT(*), COUNT(f), COUNT(DISTINCT f),
SUM, AVG, MIN, MAX. Refused (the engine aggregates in Arrow instead): HAVING, joins,
DISTINCT, windows, grouping or ordering by text fields (SOQL groups and sorts text
ignoring case), MIN/MAX over text, grouping by dateTime or number fields that
describe marks as not groupable. Unaliased aggregates come back as ``expr0, expr1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from connectors.crm import soql

if TYPE_CHECKING:
    import pyarrow as pa

    from connectors.base import Column, ScanRequest, TableInfo
    from connectors.crm.salesforce import SalesforceConnector

GROUPABLE = {"id", "reference", "picklist", "boolean", "int", "date"}
AGG_NAMES = {exp.Count: "COUNT", exp.Sum: "SUM", exp.Avg: "AVG", exp.Min: "MIN", exp.Max: "MAX"}


@dataclass(frozen=True)
class AggPlan:
    soql: str
    outputs: tuple[tuple[str, str, Any], ...]  # (output name, result label, Arrow type)


def plan_aggregate(conn: SalesforceConnector, query: exp.Expression) -> AggPlan | None:
    try:
        return _plan(conn, query)
    except (KeyError, ValueError, AttributeError, TypeError):
        return None


def _plan(conn: SalesforceConnector, q: exp.Expression) -> AggPlan | None:
    if not isinstance(q, exp.Select) or any(q.args.get(k) for k in ("joins", "having", "distinct", "with_", "offset")):
        return None
    if q.find(exp.Window, exp.Subquery) is not None or not q.args.get("group"):
        return None
    frm = q.args.get("from_")
    if frm is None or not isinstance(frm.this, exp.Table):
        return None
    table = conn.table(frm.this.name)
    native = conn._native_types.get(table.name, {})

    def col(e: exp.Expression) -> Column | None:
        return table.column(e.name) if isinstance(e, exp.Column) else None

    groups = []
    for g in q.args["group"].expressions:
        c = col(g)
        if c is None or native.get(c.native_name.lower()) not in GROUPABLE:
            return None
        groups.append(c)
    items: list[str] = []
    outputs: list[tuple[str, str, Any]] = []
    n = 0
    by_output: dict[str, str] = {}
    for sel in q.expressions:
        name = sel.alias_or_name
        inner = sel.this if isinstance(sel, exp.Alias) else sel
        c = col(inner)
        if c is not None:
            if c not in groups:
                return None
            items.append(c.native_name)
            outputs.append((name, c.native_name, c.type))
            by_output[name.lower()] = c.native_name
            continue
        rendered = _agg(inner, table, native)
        if rendered is None:
            return None
        text, typ = rendered
        items.append(text)
        outputs.append((name, f"expr{n}", typ))
        by_output[name.lower()] = text
        n += 1
    dialect = conn.dialect(table)
    unq = [_unqualify(w) for w in _conjuncts(q.args.get("where"))]
    if any(conn.classify(w, table) != "exact" for w in unq):
        return None
    order = _order(q, table, native, by_output)
    if order is None:
        return None
    limit = q.args.get("limit")
    limit_n = int(limit.expression.this) if limit is not None else None
    text = soql.select(table.native_name, items, soql.where(unq, dialect), order or None, limit_n,
                       group_by=[c.native_name for c in groups])
    return AggPlan(text, tuple(outputs))


def _agg(e: exp.Expression, table: TableInfo, native: dict[str, str]) -> tuple[str, Any] | None:
    import pyarrow as pa

    fn = AGG_NAMES.get(type(e))
    if fn is None:
        return None
    arg = e.this
    if fn == "COUNT" and isinstance(arg, exp.Star):
        return "COUNT(Id)", pa.int64()
    distinct = isinstance(arg, exp.Distinct)
    if distinct:
        if fn != "COUNT" or len(arg.expressions) != 1:
            return None
        arg = arg.expressions[0]
    c = table.column(arg.name) if isinstance(arg, exp.Column) else None
    if c is None:
        return None
    ntype = native.get(c.native_name.lower(), "string")
    if fn == "COUNT":
        if distinct and ntype not in GROUPABLE:
            return None
        return f"{'COUNT_DISTINCT' if distinct else 'COUNT'}({c.native_name})", pa.int64()
    numeric = ntype in ("int", "double", "currency", "percent")
    if fn in ("SUM", "AVG"):
        if not numeric:
            return None
        return f"{fn}({c.native_name})", (pa.float64() if fn == "AVG" else c.type)
    if not (numeric or ntype in ("date", "datetime")):
        return None  # MIN/MAX over text would compare ignoring case
    return f"{fn}({c.native_name})", c.type


def _order(q: exp.Select, table: TableInfo, native: dict[str, str], by_output: dict[str, str]) -> str | None:
    node = q.args.get("order")
    if node is None:
        return ""
    keys = []
    for o in node.expressions:
        e = o.this
        name = e.name.lower() if isinstance(e, exp.Column) else None
        text = by_output.get(name or "") if name else None
        if text is None and isinstance(e, exp.Column):
            c = table.column(e.name)
            text = c.native_name if c is not None else None
        if text is None or native.get(text.lower()) in ("picklist", "id", "reference"):
            return None  # text keys sort ignoring case in SOQL
        nf = o.args.get("nulls_first")
        keys.append((text, bool(o.args.get("desc")), bool(nf) if nf is not None else bool(o.args.get("desc"))))
    return soql.order_by(keys)


def _conjuncts(w: exp.Expression | None) -> list[exp.Expression]:
    from connectors.crm.predicates import conjuncts

    return conjuncts(w.this) if w is not None else []


def _unqualify(e: exp.Expression) -> exp.Expression:
    def strip(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column) and n.table:
            return exp.column(n.name, quoted=True)
        return n

    return e.copy().transform(strip)


def scan_aggregate(conn: SalesforceConnector, request: ScanRequest) -> pa.RecordBatchReader:
    import pyarrow as pa

    from connectors.crm.types import to_arrow

    plan = plan_aggregate(conn, request.query)  # type: ignore[arg-type]
    if plan is None:
        from federation.errors import SourceError

        raise SourceError(conn.name, "this aggregate query cannot run in Salesforce (accepts() said no)")
    schema = pa.schema([pa.field(n, t) for n, (_o, _l, t) in zip(request.output_names, plan.outputs)])
    rows: list[dict[str, Any]] = []
    doc = conn._get(conn._query_path(), {"q": plan.soql})
    while True:
        rows.extend(doc.get("records") or [])
        if doc.get("done", True) or not doc.get("nextRecordsUrl"):
            break
        doc = conn._get(doc["nextRecordsUrl"])
    arrays = [to_arrow([r.get(label) for r in rows], t, column=name) for name, label, t in plan.outputs]
    return pa.RecordBatchReader.from_batches(schema, [pa.RecordBatch.from_arrays(arrays, schema=schema)])
