"""Run a query node: WITH, SELECT (FROM → WHERE → GROUP BY/HAVING → windows →
projection → DISTINCT → ORDER BY → LIMIT/OFFSET) and set operations."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sqlglot import exp

from federation.errors import QueryError, UnsupportedError
from federation.execute.aggregate import aggregate, find_aggregates
from federation.execute.expressions import Evaluator, broadcast, flat
from federation.execute.joins import from_clause
from federation.execute.relation import Context, Relation
from federation.execute.sorting import keys_of, sort_indices
from federation.execute.window import find_windows, windows


def run_query(node: exp.Expression, ctx: Context) -> pa.Table:
    """The rows of ``node``; column names are its output names (duplicates kept)."""
    ctx = ctx.child()
    with_ = node.args.get("with_")
    if with_ is not None:
        if with_.args.get("recursive"):
            raise UnsupportedError("WITH RECURSIVE")
        for cte in with_.expressions:
            table = run_query(cte.this, ctx)
            alias = cte.args.get("alias")
            if isinstance(alias, exp.TableAlias) and alias.columns:
                names = [c.name for c in alias.columns]
                table = table.rename_columns(names + table.column_names[len(names):])
            ctx.ctes[cte.alias] = table
    if isinstance(node, exp.Select):
        return _select(node, ctx)
    if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
        from federation.execute.setops import set_operation

        reject_unknown(node, _SETOP_ARGS)
        return _finish(set_operation(node, ctx), node, ctx)
    if isinstance(node, exp.Subquery):
        return _finish(run_query(node.this, ctx), node, ctx)
    if isinstance(node, exp.Values):
        raise UnsupportedError("VALUES lists")
    raise UnsupportedError(f"{type(node).__name__} as a query")


def _finish(table: pa.Table, node: exp.Expression, ctx: Context) -> pa.Table:
    """ORDER BY / LIMIT / OFFSET attached to a set operation or parenthesised query."""
    order = node.args.get("order")
    if order is not None:
        rel = Relation.of(table, None)
        perm = sort_indices(keys_of(Evaluator(rel, ctx), order.expressions), table.num_rows)
        table = table.take(perm)
    return _limit(table, node, ctx)


def _limit(table: pa.Table, node: exp.Expression, ctx: Context) -> pa.Table:
    offset = _count(node.args.get("offset"), ctx, "OFFSET")
    limit = _count(node.args.get("limit"), ctx, "LIMIT")
    if offset:
        table = table.slice(offset)
    if limit is not None:
        table = table.slice(0, limit)
    return table


def _count(node: exp.Expression | None, ctx: Context, what: str) -> int | None:
    if node is None:
        return None
    if isinstance(node, exp.Fetch):
        if node.args.get("with_ties") or node.args.get("percent"):
            raise UnsupportedError("FETCH FIRST ... WITH TIES / PERCENT")
        expr = node.args.get("count") or exp.Literal.number(1)
    else:
        expr = node.expression if isinstance(node, (exp.Limit, exp.Offset)) else node
        if expr is None:
            expr = node.this
    if isinstance(expr, exp.Var) and expr.name.upper() == "ALL":
        return None  # LIMIT ALL
    dual = Relation(pa.Table.from_arrays([pa.nulls(1, pa.null())], names=["c0"]), [(None, "\x00dual")])
    value = Evaluator(dual, ctx).eval(expr)
    value = value if isinstance(value, pa.Scalar) else flat(value)[0]
    v = value.as_py()
    if v is None:
        return None
    if not isinstance(v, int):
        raise QueryError(f"argument of {what} must be an integer")
    if v < 0:
        raise QueryError(f"{what} must not be negative")
    return v


_SELECT_ARGS = {"with_", "expressions", "hint", "distinct", "from_", "joins", "where", "group", "having",
                "order", "limit", "offset"}
_SETOP_ARGS = {"with_", "this", "expression", "distinct", "order", "limit", "offset"}


def reject_unknown(node: exp.Expression, allowed: set[str]) -> None:
    """Clauses this executor does not implement must fail loudly, never be ignored."""
    for key, value in node.args.items():
        if key not in allowed and value not in (None, [], False):
            raise UnsupportedError(f"{key.rstrip('_').upper()} clause in the Arrow executor")


def _select(node: exp.Select, ctx: Context) -> pa.Table:
    reject_unknown(node, _SELECT_ARGS)
    distinct = node.args.get("distinct")
    rel = from_clause(node, ctx)
    where = node.args.get("where")
    if where is not None:
        rel = rel.filter(Evaluator(rel, ctx).predicate(where.this))
    projections = list(node.expressions)
    order = node.args.get("order")
    having = node.args.get("having")
    group = node.args.get("group")
    group_exprs = list(group.expressions) if group is not None else []
    if group is not None and (group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets")):
        raise UnsupportedError("GROUPING SETS / CUBE / ROLLUP")
    scan = projections + ([having.this] if having is not None else []) + (list(order.expressions) if order else [])
    aggs = find_aggregates(scan)
    subst: dict[str, int] = {}
    if group_exprs or aggs or having is not None:
        rel, subst = aggregate(rel, group_exprs, aggs, ctx)
        if having is not None:
            rel = rel.filter(Evaluator(rel, ctx, subst).predicate(having.this))
    found = find_windows(projections + (list(order.expressions) if order else []))
    if found:
        rel, subst = windows(rel, found, ctx, subst)
    ev = Evaluator(rel, ctx, subst)
    cols, names = [], []
    for p in projections:
        if isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star)):
            raise UnsupportedError("SELECT * reaching the executor (the optimizer should expand it)")
        v = ev.eval(p)
        if hasattr(v, "months"):
            from federation.execute.temporal import interval_array

            v = interval_array(v, rel.num_rows)
        cols.append(flat(broadcast(v, rel.num_rows)))
        names.append(p.alias_or_name)
    out = pa.Table.from_arrays(cols, names=names) if cols else pa.table({})
    if distinct is not None and distinct.args.get("on") is not None:
        return _limit(_distinct_on(rel, out, distinct.args["on"], order, ctx, subst), node, ctx)
    if distinct is not None:
        out = distinct_rows(out)
    if order is not None:
        # ORDER BY sees the output names first, then the input columns (PostgreSQL's rule)
        if distinct is None:
            combined = rel.with_columns(list(out.columns), [(None, n) for n in names])
        else:
            combined, subst = _output_relation(out, projections), {}
        keys = keys_of(Evaluator(combined, ctx, subst), order.expressions)
        out = out.take(sort_indices(keys, out.num_rows))
    return _limit(out, node, ctx)


def _distinct_on(rel: Relation, out: pa.Table, on: exp.Expression, order: exp.Order | None,
                 ctx: Context, subst: dict[str, int]) -> pa.Table:
    """PostgreSQL's DISTINCT ON: the first row of each key group in ORDER BY order."""
    combined = rel.with_columns(list(out.columns), [(None, n) for n in out.column_names])
    if order is not None:
        perm = sort_indices(keys_of(Evaluator(combined, ctx, subst), order.expressions), out.num_rows)
        out, combined = out.take(perm), combined.take(perm)
    on_exprs = on.expressions if isinstance(on, exp.Tuple) else [on]
    ev = Evaluator(combined, ctx, subst)
    keys = [flat(ev.array(e)) for e in on_exprs]
    row = pa.array(np.arange(out.num_rows, dtype=np.int64))
    t = pa.Table.from_arrays(keys + [row], names=[f"k{i}" for i in range(len(keys))] + ["__row"])
    first = t.group_by([f"k{i}" for i in range(len(keys))], use_threads=False).aggregate([("__row", "min")])
    return out.take(pa.array(np.sort(first.column("__row_min").to_numpy())))


def _output_relation(out: pa.Table, projections: list[exp.Expression]) -> Relation:
    """Output columns by alias, plus by their source column for plain column projections."""
    cols, names = list(out.columns), [(None, n) for n in out.column_names]
    for col, p in zip(out.columns, projections):
        inner = p.this if isinstance(p, exp.Alias) else p
        if isinstance(inner, exp.Column) and inner.table:
            cols.append(col)
            names.append((inner.table, inner.name))
    return Relation(pa.Table.from_arrays(cols, names=[f"c{i}" for i in range(len(cols))]), names)


def distinct_rows(table: pa.Table) -> pa.Table:
    """Unique rows, NULLs equal, first occurrence order."""
    if table.num_columns == 0:
        return table.slice(0, min(1, table.num_rows))
    names = table.column_names
    internal = pa.Table.from_arrays(list(table.columns) + [pa.array(np.arange(table.num_rows, dtype=np.int64))],
                                    names=[f"c{i}" for i in range(len(names))] + ["__row"])
    g = internal.group_by([f"c{i}" for i in range(len(names))], use_threads=False).aggregate([("__row", "min")])
    rows = np.sort(g.column("__row_min").to_numpy())
    return table.take(pa.array(rows))
