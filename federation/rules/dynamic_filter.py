"""Find where one fragment's join keys can shrink another's fetch (semi-join reduction).

An edge ``build.col -> probe.col`` means: the probe fragment's rows whose ``col``
is not among the build fragment's keys can never reach the answer, because they
meet the build side in an inner equi-join (or as the right side of a LEFT JOIN).
The runner decides at run time, from the observed key count, whether to use it.
Keys are a hint: a connector that ignores them returns more rows, never wrong ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp


@dataclass(frozen=True)
class Edge:
    build: str  # fragment id
    build_column: str
    probe: str
    probe_column: str


def _definitions(root: exp.Expression) -> dict[str, exp.Expression]:
    return {c.alias_or_name: c.this for c in root.find_all(exp.CTE)}


def _trace(alias: str, column: str, sel: exp.Select, defs: dict[str, exp.Expression], depth: int = 0) -> tuple[str, str] | None:
    """Follow ``alias.column`` in ``sel``'s FROM items down to a fragment column."""
    if depth > 8:
        return None
    items = []
    frm = sel.args.get("from_")
    if frm is not None:
        items.append(frm.this)
    items += [j.this for j in sel.args.get("joins") or []]
    for item in items:
        if item.alias_or_name != alias:
            continue
        if isinstance(item, exp.Table):
            name = item.name
            if name.startswith("__f"):
                return name, column
            body = defs.get(name)
        elif isinstance(item, exp.Subquery):
            body = item.this
        else:
            return None
        return _trace_body(body, column, defs, depth)
    return None


def _trace_body(body: exp.Expression | None, column: str, defs: dict[str, exp.Expression], depth: int) -> tuple[str, str] | None:
    """A simple projection (no aggregate/window/limit/distinct) passes keys through."""
    if not isinstance(body, exp.Select):
        return None
    if body.args.get("joins") or body.args.get("distinct") or body.args.get("limit"):
        return None
    if body.find(exp.Window) is not None:
        return None
    group = body.args.get("group")
    for proj in body.expressions:
        if proj.alias_or_name == column:
            inner = proj.this if isinstance(proj, exp.Alias) else proj
            if not (isinstance(inner, exp.Column) and inner.table):
                return None
            # filtering on a grouping key commutes with the grouping
            if group is not None and inner not in group.expressions:
                return None
            return _trace(inner.table, inner.name, body, defs, depth + 1)
    return None


def _required_not_null(sel: exp.Select) -> set[str]:
    """Aliases whose column the WHERE requires to be non-null (null-rejecting)."""
    where = sel.args.get("where")
    if where is None:
        return set()
    conds = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    out = set()
    for c in conds:
        if isinstance(c, exp.Not) and isinstance(c.this, exp.Is) and isinstance(c.this.expression, exp.Null):
            col = c.this.this
            if isinstance(col, exp.Column) and col.table:
                out.add(col.table)
    return out


def find_edges(residual: exp.Expression | None) -> list[Edge]:
    if residual is None:
        return []
    defs = _definitions(residual)
    edges: list[Edge] = []
    for sel in residual.find_all(exp.Select):
        frm = sel.args.get("from_")
        if frm is None:
            continue
        not_null = _required_not_null(sel)
        for join in sel.args.get("joins") or []:
            side = (join.side or "").upper()
            if side == "LEFT" and join.this.alias_or_name in not_null:
                side = ""  # LEFT JOIN ... WHERE right.k IS NOT NULL is a semi-join (EXISTS / IN)
            kind = (join.kind or "").upper()
            if side in ("RIGHT", "FULL") or kind not in ("", "INNER") or join.args.get("on") is None:
                continue
            right = join.this.alias_or_name
            on = join.args["on"]
            conds = list(on.flatten()) if isinstance(on, exp.And) else [on]
            for cond in conds:
                if not isinstance(cond, exp.EQ):
                    continue
                a, b = cond.this, cond.expression
                if not (isinstance(a, exp.Column) and isinstance(b, exp.Column) and a.table and b.table):
                    continue
                ta, tb = _trace(a.table, a.name, sel, defs), _trace(b.table, b.name, sel, defs)
                if ta is None or tb is None or ta[0] == tb[0]:
                    continue
                for (build, probe, probe_alias) in ((ta, tb, b.table), (tb, ta, a.table)):
                    # a LEFT JOIN keeps every left row: only its right side may shrink
                    if side == "LEFT" and probe_alias != right:
                        continue
                    edges.append(Edge(build[0], build[1], probe[0], probe[1]))
    return list(dict.fromkeys(edges))
