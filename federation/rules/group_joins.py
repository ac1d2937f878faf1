"""Group inner-joined tables of one SQL source so the source runs their join.

sqlglot isolates every table in its own scope; a query joining
``shop.customers``, ``shop.orders`` and ``events.events`` would otherwise fetch
both shop tables and join them in Arrow. Inner joins commute, so the shop pair
(when connected by join conditions among themselves) becomes one derived table
``(SELECT c.id AS c__id, ... FROM c JOIN o ON ...) AS __g0`` that the splitter
pushes whole; the rest of the query reads ``__g0.c__id`` instead of ``c.id``.
Outer joins are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp


def _is_inner(join: exp.Join) -> bool:
    return (
        not (join.side or "")
        and (join.kind or "").upper() in ("", "INNER")
        and join.args.get("on") is not None
        and not join.args.get("using")
    )


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    return list(node.flatten()) if isinstance(node, exp.And) else [node]


def _aliases(node: exp.Expression) -> set[str]:
    return {c.table for c in node.find_all(exp.Column) if c.table}


def _components(items: list[str], conds: list[exp.Expression]) -> list[list[str]]:
    parent = {a: a for a in items}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for c in conds:
        refs = [a for a in _aliases(c) if a in parent]
        if isinstance(c, exp.EQ) and len(refs) == 2:
            parent[find(refs[0])] = find(refs[1])
    groups: dict[str, list[str]] = {}
    for a in items:
        groups.setdefault(find(a), []).append(a)
    return [g for g in groups.values() if len(g) > 1]


def group_joins(root: exp.Query, source_of: Callable[[exp.Table], str | None]) -> exp.Query:
    """Rewrite every SELECT of ``root``; ``source_of`` names the SQL source a FROM
    item reads (None when it is not a single join-capable SQL source)."""
    counter = [0]
    for sel in list(root.find_all(exp.Select)):
        _rewrite(sel, source_of, counter)
    return root


def _rewrite(sel: exp.Select, source_of: Callable[[exp.Table], str | None], counter: list[int]) -> None:
    joins = sel.args.get("joins") or []
    frm = sel.args.get("from_")
    if not joins or frm is None or not all(_is_inner(j) for j in joins):
        return
    items = [frm.this] + [j.this for j in joins]
    if not all(isinstance(i, exp.Table) for i in items):
        return
    by_alias = {i.alias_or_name: i for i in items}
    if len(by_alias) != len(items):
        return
    conds = [c for j in joins for c in _conjuncts(j.args["on"])]
    where = sel.args.get("where")
    wconds = _conjuncts(where.this) if where is not None else []
    movable = [c for c in wconds if c.find(exp.Query, exp.AggFunc, exp.Window) is None and len(_aliases(c)) >= 2]
    by_source: dict[str, list[str]] = {}
    for alias, item in by_alias.items():
        src = source_of(item)
        if src is not None:
            by_source.setdefault(src, []).append(alias)
    groups = [g for members in by_source.values() if len(members) > 1 for g in _components(members, conds + movable)]
    if not groups:
        return
    for group in groups:
        _apply(sel, group, by_alias, counter)


def _apply(sel: exp.Select, group: list[str], by_alias: dict[str, exp.Table], counter: list[int]) -> None:
    members = set(group)
    name = f"__g{counter[0]}"
    counter[0] += 1
    joins = sel.args.get("joins") or []
    items = [sel.args["from_"].this] + [j.this for j in joins]
    conds = [c for j in joins for c in _conjuncts(j.args["on"])]
    where = sel.args.get("where")
    wconds = _conjuncts(where.this) if where is not None else []
    inner = [c for c in conds + wconds
             if _aliases(c) and _aliases(c) <= members and c.find(exp.Query, exp.AggFunc, exp.Window) is None]
    inner_ids = {id(c) for c in inner}

    # columns of the group that the rest of the SELECT reads
    needed: dict[tuple[str, str], str] = {}
    in_inner = {id(col) for c in inner for col in c.find_all(exp.Column)}
    for col in sel.find_all(exp.Column):
        if col.table in members and id(col) not in in_inner:
            needed.setdefault((col.table, col.name), f"{col.table}__{col.name}")
    if not needed:
        return  # nothing read from the group (count(*) over a join): leave it

    ordered = [i for i in items if i.alias_or_name in members]
    sub = exp.select(*[
        exp.alias_(exp.column(c, table=t, quoted=True), n, quoted=True) for (t, c), n in needed.items()
    ]).from_(ordered[0].copy(), copy=False)  # ``sub`` is built here: its builders need not copy it again
    placed = {ordered[0].alias_or_name}
    pending = list(inner)
    for item in ordered[1:]:
        placed.add(item.alias_or_name)
        on = [c for c in pending if _aliases(c) <= placed]
        pending = [c for c in pending if c not in on]
        sub = sub.join(item.copy(), on=exp.and_(*on) if on else exp.true(), join_type="inner", copy=False)
    if pending:
        sub = sub.where(exp.and_(*pending), copy=False)
    derived = exp.Subquery(this=sub, alias=exp.TableAlias(this=exp.to_identifier(name, quoted=True)))

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.table in members and (node.table, node.name) in needed:
            return exp.column(needed[(node.table, node.name)], table=name, quoted=True)
        return node

    outer_conds = [c.transform(rename) for c in conds + wconds if id(c) not in inner_ids]
    new_items: list[exp.Expression] = []
    for i in items:
        if i.alias_or_name in members:
            if derived not in new_items:
                new_items.append(derived)
        else:
            new_items.append(i)
    # rebuild FROM + inner joins, each ON holding the conditions it can evaluate
    for key in ("expressions", "group", "having", "order", "qualify"):
        val = sel.args.get(key)
        if val is not None:
            sel.set(key, val.transform(rename) if not isinstance(val, list) else [v.transform(rename) for v in val])
    seen = {new_items[0].alias_or_name}
    sel.set("from_", exp.From(this=new_items[0]))
    new_joins = []
    pending_outer = list(outer_conds)
    for item in new_items[1:]:
        seen.add(item.alias_or_name)
        on = [c for c in pending_outer if _aliases(c) <= seen]
        pending_outer = [c for c in pending_outer if c not in on]
        new_joins.append(exp.Join(this=item, on=exp.and_(*on) if on else exp.true()))
    sel.set("joins", new_joins)
    sel.set("where", exp.Where(this=exp.and_(*pending_outer)) if pending_outer else None)
