"""GROUP BY and aggregate functions through pyarrow's hash aggregation.

The grouped relation holds the group keys then one column per distinct
aggregate call; the Evaluator reads them back through ``subst`` (keyed by each
expression's SQL), so ``SUM(x) / COUNT(*)`` or ``CASE WHEN COUNT(*) > 1`` work
like any other expression over the grouped rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from federation.errors import QueryError, UnsupportedError
from federation.execute.expressions import Evaluator, broadcast, flat, node_key
from federation.execute.relation import Context, Relation

_SIMPLE = {exp.Sum: "sum", exp.Avg: "mean", exp.Min: "min", exp.Max: "max",
           exp.LogicalAnd: "all", exp.LogicalOr: "any", exp.ArrayAgg: "list",
           exp.Stddev: "stddev", exp.StddevSamp: "stddev", exp.StddevPop: "stddev",
           exp.Variance: "variance", exp.VariancePop: "variance"}


def find_aggregates(nodes: list[exp.Expression]) -> list[exp.Expression]:
    """Aggregate calls in ``nodes`` (not in subqueries; inside a window only its arguments)."""
    found: dict[str, exp.Expression] = {}

    def walk(n: exp.Expression, in_window_fn: bool) -> None:
        if isinstance(n, (exp.Select, exp.Subquery, exp.Union, exp.Intersect, exp.Except)):
            return
        if isinstance(n, exp.Window):
            fn = n.this
            for child in [*fn.iter_expressions(), *(n.args.get("partition_by") or [])]:
                walk(child, False)
            if n.args.get("order") is not None:
                walk(n.args["order"], False)
            return
        if isinstance(n, exp.Filter) and isinstance(n.this, exp.AggFunc):
            found.setdefault(node_key(n), n)
            return
        if isinstance(n, exp.AggFunc):
            found.setdefault(node_key(n), n)
            return
        for child in n.iter_expressions():
            walk(child, in_window_fn)

    for node in nodes:
        walk(node, False)
    return list(found.values())


@dataclass
class _Spec:
    fn: str                      # pyarrow hash function, or our post-processed kinds
    arg: pa.Array | None         # None for COUNT(*)
    distinct: bool = False
    sep: str | None = None       # STRING_AGG separator
    options: object = None


def _unwrap(node: exp.Expression, ev: Evaluator) -> tuple[exp.Expression, pa.Array | None]:
    """The aggregate call and its FILTER mask (None without FILTER)."""
    if isinstance(node, exp.Filter):
        where = node.expression
        cond = where.this if isinstance(where, exp.Where) else where
        return node.this, ev.predicate(cond)
    return node, None


def _spec(node: exp.Expression, ev: Evaluator) -> _Spec:
    agg, mask = _unwrap(node, ev)
    if isinstance(agg, exp.Count):
        inner = agg.this
        if isinstance(inner, exp.Star) or inner is None:
            arg = None if mask is None else pc.if_else(mask, pa.scalar(1), pa.scalar(None, pa.int64()))
            return _Spec("count_all" if arg is None else "count", arg)
        distinct = isinstance(inner, exp.Distinct)
        if distinct:
            if len(inner.expressions) != 1:
                raise UnsupportedError("COUNT(DISTINCT several expressions)")
            inner = inner.expressions[0]
        return _Spec("count_distinct" if distinct else "count", _masked(ev, inner, mask))
    if isinstance(agg, exp.GroupConcat):
        inner = agg.this
        if isinstance(inner, exp.Order):
            inner = inner.this
        distinct = isinstance(inner, exp.Distinct)
        if distinct:
            inner = inner.expressions[0]
        sep = agg.args.get("separator")
        sep_v = "," if sep is None else ev.constant(sep, "STRING_AGG's separator")
        arg = _masked(ev, inner, mask)
        if not (pa.types.is_string(arg.type) or pa.types.is_null(arg.type)):
            raise QueryError("function string_agg(non-text, text) does not exist", hint="CAST the value to text.")
        return _Spec("string_agg", arg.cast(pa.string()), distinct, "" if sep_v is None else str(sep_v))
    fn = _SIMPLE.get(type(agg))
    if fn is None:
        raise UnsupportedError(f"aggregate {agg.sql_name()} in the Arrow executor")
    inner = agg.this
    distinct = isinstance(inner, exp.Distinct)
    if distinct:
        inner = inner.expressions[0]
    if isinstance(inner, exp.Order):
        raise UnsupportedError(f"{agg.sql_name()} with ORDER BY")
    arg = _masked(ev, inner, mask)
    _check_arg(agg, fn, arg)
    options = None
    if fn in ("stddev", "variance"):
        options = pc.VarianceOptions(ddof=0 if isinstance(agg, (exp.StddevPop, exp.VariancePop)) else 1)
    return _Spec(fn, arg, distinct and fn not in ("min", "max", "all", "any"), None, options)


def _check_arg(agg: exp.Expression, fn: str, arg: pa.Array) -> None:
    t = arg.type
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)
    if fn in ("sum", "mean", "stddev", "variance") and not (numeric or pa.types.is_duration(t) and fn == "sum"):
        raise QueryError(f"function {agg.sql_name().lower()}({t}) does not exist",
                         hint="Aggregate a numeric column, or CAST it.")
    if fn in ("all", "any") and not (pa.types.is_boolean(t) or pa.types.is_null(t)):
        raise QueryError(f"function {agg.sql_name().lower()}({t}) does not exist")


def _masked(ev: Evaluator, node: exp.Expression, mask: pa.Array | None) -> pa.Array:
    v = flat(ev.array(node))
    if pa.types.is_null(v.type):
        v = v.cast(pa.int64())
    if mask is None:
        return v
    return pc.if_else(mask, v, pa.scalar(None, v.type))


def _regroup(lists: pa.Array, fn: str, sep: str | None, options: object) -> pa.Array:
    """Apply an aggregate to each list (hash_distinct / hash_list output), NULLs dropped."""
    lists = flat(lists) if isinstance(lists, pa.ChunkedArray) else lists
    n = len(lists)
    values = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    valid = pc.is_valid(values)
    values, parents = values.filter(valid), parents.filter(valid)
    if fn == "string_agg":
        counts = np.bincount(parents.to_numpy(), minlength=n) if len(parents) else np.zeros(n, np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), sep)
        return pc.if_else(pa.array(counts > 0), joined, pa.scalar(None, pa.string()))
    t = pa.table({"p": parents, "v": values})
    g = t.group_by(["p"]).aggregate([("v", fn, options)] if options is not None else [("v", fn)])
    out_type = g.column(1).type
    pos = g.column("p").to_numpy()
    res = pa.nulls(n, out_type)
    if len(pos) == 0:
        return res
    idx = np.full(n, -1, np.int64)
    idx[pos] = np.arange(len(pos))
    mask = idx < 0
    return g.column(1).combine_chunks().take(pa.array(np.where(mask, 0, idx), mask=mask))


def _presort(rel: Relation, aggs: list[exp.Expression], ctx: Context) -> Relation:
    """STRING_AGG(x ORDER BY ...): sort the input once; hash_list keeps input order single-threaded."""
    from federation.execute.sorting import keys_of, sort_indices

    orders: dict[str, exp.Order] = {}
    for a in aggs:
        agg = a.this if isinstance(a, exp.Filter) else a
        inner = agg.this
        if isinstance(inner, exp.Order) and inner.expressions:
            orders.setdefault(node_key(exp.Tuple(expressions=inner.expressions)), inner)
    if not orders:
        return rel
    if len(orders) > 1:
        raise UnsupportedError("aggregates with different ORDER BY clauses in one query")
    order = next(iter(orders.values()))
    keys = keys_of(Evaluator(rel, ctx), order.expressions)
    return rel.take(sort_indices(keys, rel.num_rows))


def _group(table: pa.Table, keys: list[str], calls: list[tuple], ordered: bool) -> pa.Table:
    """Hash aggregation; without keys, one row even over no input (count 0, others NULL).
    A constant key stands in for 'no keys' because list/distinct have no scalar kernels."""
    if keys:
        return table.group_by(keys, use_threads=not ordered).aggregate(calls)
    const = table.append_column("__all", pa.nulls(table.num_rows, pa.int8()).fill_null(0))
    grouped = const.group_by(["__all"], use_threads=not ordered).aggregate(calls).drop_columns(["__all"])
    if grouped.num_rows:
        return grouped
    row = []
    for name, col in zip(grouped.column_names, grouped.columns):
        counted = name == "count_all" or name.endswith(("_count", "_count_distinct"))
        row.append(pa.array([0], col.type) if counted else pa.nulls(1, col.type))
    return pa.Table.from_arrays(row, names=grouped.column_names)


def aggregate(rel: Relation, group: list[exp.Expression], aggs: list[exp.Expression],
              ctx: Context) -> tuple[Relation, dict[str, int]]:
    """Group ``rel`` and compute ``aggs``; returns the grouped relation and its subst map."""
    rel = _presort(rel, aggs, ctx)
    ev = Evaluator(rel, ctx)
    for g in group:
        if isinstance(g, (exp.Cube, exp.Rollup, exp.GroupingSets)):
            raise UnsupportedError("GROUPING SETS / CUBE / ROLLUP")
    keys = [flat(ev.array(g)) for g in group]
    specs = [_spec(a, ev) for a in aggs]
    cols = keys + [s.arg for s in specs if s.arg is not None] + [pa.nulls(rel.num_rows, pa.int8())]
    names = [f"k{i}" for i in range(len(keys))]
    arg_names, calls, j = [], [], 0
    for i, s in enumerate(specs):
        if s.arg is None:
            arg_names.append(None)
            calls.append(([], "count_all"))
            continue
        name = f"a{j}"
        j += 1
        arg_names.append(name)
        fn = "distinct" if s.distinct or s.fn == "string_agg" and s.distinct else s.fn
        if s.fn == "string_agg" and not s.distinct:
            fn = "list"
        opts = s.options
        if fn in ("count", "count_distinct"):
            opts = pc.CountOptions(mode="only_valid")
        elif fn == "distinct":
            opts = pc.CountOptions(mode="only_valid")
        calls.append((name, fn, opts) if opts is not None else (name, fn))
    names += [n for n in arg_names if n is not None] + ["__pad"]
    table = pa.Table.from_arrays(cols, names=names)
    ordered = any(s.fn in ("string_agg", "list") for s in specs)
    grouped = _group(table, names[: len(keys)], calls, ordered)
    out_cols = [grouped.column(f"k{i}") for i in range(len(keys))]
    for i, (s, name, call) in enumerate(zip(specs, arg_names, calls)):
        col = grouped.column("count_all" if name is None else f"{name}_{call[1]}")
        if call[1] in ("distinct", "list") and s.fn != "list":
            col = _regroup(col, s.fn, s.sep, s.options)
        out_cols.append(col)
    out_names: list[tuple[str | None, str]] = []
    subst: dict[str, int] = {}
    for i, g in enumerate(group):
        out_names.append((g.table or None, g.name) if isinstance(g, exp.Column) else (None, f"\x00g{i}"))
        subst[node_key(g)] = i
    for i, a in enumerate(aggs):
        out_names.append((None, f"\x00agg{i}"))
        subst[node_key(a)] = len(group) + i
    arrays = [broadcast(c, grouped.num_rows) for c in out_cols]
    internal = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
    return Relation(internal, out_names), subst
