"""Rewrite entity references in a parsed query into derived tables over sources.

Called by the planner after parameter binding and before name binding, so
everything downstream (binder, optimizer, splitter) sees only physical
``source.table`` tables. All SQL is built as sqlglot ASTs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from federation.errors import QueryError, did_you_mean
from federation.sqlfront import node_position
from models.merge import profile_select
from models.rewrite import merge_plan, usage
from models.spec import LINKS_SUFFIX, PROVENANCE_SUFFIX, Entity
from models.sqlbuild import single_source_select

if TYPE_CHECKING:
    from models.model import Model


def expand_query(model: Model, query: exp.Query, sql: str, notes: list[str],
                 pruned: dict[str, list[str]]) -> exp.Query:
    ctes = {c.alias_or_name.lower() for c in query.find_all(exp.CTE)}
    names = set(model.entity_names())
    targets = [t for t in query.find_all(exp.Table)
               if not t.db and t.name.lower() in names and t.name.lower() not in ctes]
    if not targets:
        return query
    _check_columns(model, query, targets, sql)
    stitched: dict[str, object] = {}
    for t in targets:
        name = t.name.lower()
        if name.endswith(LINKS_SUFFIX) and name not in model.entities:
            ent = model.entities[name[: -len(LINKS_SUFFIX)]]
            result = _stitch(model, ent, stitched, notes)
            select = exp.select("*").from_(result.links_table)  # type: ignore[attr-defined]
        else:
            ent = model.entities[name]
            select = _entity_select(model, ent, query, t, stitched, notes, pruned)
        alias = t.args.get("alias")
        if alias is None:
            alias = exp.TableAlias(this=exp.to_identifier(t.name))
        t.replace(exp.Subquery(this=select, alias=alias.copy()))
    return query


def _entity_select(model: Model, ent: Entity, query: exp.Query, table: exp.Table, stitched: dict[str, object],
                   notes: list[str], pruned: dict[str, list[str]]) -> exp.Select:
    use = usage(query, table, ent)
    visible = [c for c in ent.columns() if not c.endswith(PROVENANCE_SUFFIX)]
    names = [c for c in ent.columns() if c in use.names or (use.star and c in visible)]
    if not ent.profile:
        _check_sources(model, ent, [0])
        return single_source_select(ent, names or visible[:1])
    plan, dropped = merge_plan(ent, use, ent.stitched)
    _check_sources(model, ent, [i for i, _ in plan.order])
    if ent.stitched:
        result = _stitch(model, ent, stitched, notes)
        plan.stitch_maps = result.maps  # type: ignore[attr-defined]
        plan.stitch_links = result.links  # type: ignore[attr-defined]
    names = names or [ent.id_field or ent.key or visible[0]]
    select = profile_select(ent, plan, names)
    joins = ", ".join(f"{ent.sources[i].label} ({kind})" for i, kind in plan.order)
    notes.append(f"entity {ent.name}: merge {joins}")
    if plan.members:
        notes.append(f"entity {ent.name}: members {', '.join(ent.sources[i].label for i in plan.members)} "
                     "(a customer needs a record in one of them)")
    for push in plan.key_filters:
        notes.append(f"entity {ent.name}: key filter pushed into every source: {push.conjunct.sql(dialect='postgres')}")
    for i, pushes in sorted(plan.field_filters.items()):
        for push in pushes:
            notes.append(f"entity {ent.name}: filter pushed into {ent.sources[i].label}: "
                         f"{push.conjunct.sql(dialect='postgres')}")
    if dropped:
        pruned.setdefault(ent.name, []).extend(d for d in dropped if d not in pruned.get(ent.name, []))
        notes.append(f"entity {ent.name}: pruned sources (no used field, cannot add rows): {', '.join(dropped)}")
    return select


def _check_sources(model: Model, ent: Entity, used: list[int]) -> None:
    """A model that names a missing table or column is a config error pointing at the
    YAML (the binder would report generated SQL the user never wrote)."""
    ws = model.workspace
    if ws is None:
        return
    from federation.errors import ConfigError, Problem, SourceError
    from models.validate import location_of

    problems = []
    for i in used:
        src = ent.sources[i]
        if src.source not in ws.catalog.source_names:
            problems.append(Problem(location_of(ws, f"{src.path}.from"), f"entity '{ent.name}' reads unknown source "
                                    f"'{src.source}'", did_you_mean(src.source, ws.catalog.source_names)))
            continue
        try:
            info = ws.catalog.tables(src.source).get(src.table)
        except SourceError:
            continue  # the source itself fails: the fetch reports it, naming the source
        if info is None:
            problems.append(Problem(location_of(ws, f"{src.path}.from"),
                                    f"entity '{ent.name}' reads table '{src.source}.{src.table}', which does not exist",
                                    "Run `cdp model validate` for every problem of the model."))
            continue
        for fname, node in src.fields.items():
            for c in node.find_all(exp.Column):
                if info.column(c.name) is None:
                    problems.append(Problem(location_of(ws, f"{src.path}.fields.{fname}"),
                                            f"column '{c.name}' does not exist in {src.source}.{src.table} "
                                            f"(field '{fname}' of '{ent.name}')",
                                            did_you_mean(c.name, info.column_names)))
    if problems:
        raise ConfigError(problems)


def _stitch(model: Model, ent: Entity, cache: dict[str, object], notes: list[str]) -> object:
    if ent.name not in cache:
        from models.stitch import stitch_entity

        if model.workspace is None:
            raise QueryError(f"entity '{ent.name}' needs identity stitching, which needs a workspace")
        cache[ent.name] = stitch_entity(model.workspace, ent, notes)
    return cache[ent.name]


def _check_columns(model: Model, query: exp.Query, targets: list[exp.Table], sql: str) -> None:
    """Name the entity in 'unknown column' errors (the binder would name its sources)."""
    by_alias: dict[str, list[str]] = {}
    for t in targets:
        name = t.name.lower()
        cols = _columns_of(model, name)
        by_alias[t.alias_or_name.lower()] = [name, *cols]
    defined = {a.alias.lower() for a in query.find_all(exp.Alias) if a.alias}
    for c in query.find_all(exp.Column):
        if isinstance(c.this, exp.Star):
            continue
        if c.table and c.table.lower() in by_alias:
            entity, *cols = by_alias[c.table.lower()]
            if c.name.lower() not in cols:
                _raise(c, entity, cols, sql)
        elif not c.table:
            sel = c.find_ancestor(exp.Select)
            owners = _only_entities(sel, targets) if sel is not None else None
            if owners and c.name.lower() not in defined:
                cols = [x for o in owners for x in by_alias[o][1:]]
                if c.name.lower() not in cols and not _outer_has(c, sel):
                    _raise(c, by_alias[owners[0]][0], cols, sql)


def _columns_of(model: Model, name: str) -> list[str]:
    if name in model.entities:
        return model.entities[name].columns()
    from models.stitch import LINK_COLUMNS

    return list(LINK_COLUMNS)


def _only_entities(sel: exp.Select, targets: list[exp.Table]) -> list[str] | None:
    """Aliases of the FROM items of ``sel`` when every one is an entity reference."""
    items = []
    frm = sel.args.get("from_")
    if frm is not None:
        items.append(frm.this)
    items += [j.this for j in sel.args.get("joins") or []]
    if not items or not all(any(i is t for t in targets) for i in items):
        return None
    return [i.alias_or_name.lower() for i in items]


def _outer_has(c: exp.Column, sel: exp.Select) -> bool:
    """A correlated reference to an outer query's column: leave it to the binder."""
    return sel.find_ancestor(exp.Select) is not None


def _raise(c: exp.Column, entity: str, cols: list[str], sql: str) -> None:
    where = node_position(sql, c)
    visible = [x for x in cols if not x.endswith(PROVENANCE_SUFFIX)]
    raise QueryError(
        f"column '{c.name}' is not in entity '{entity}'",
        sql=sql, position=where[0] if where else None, length=where[1] if where else 1,
        hint=did_you_mean(c.name, cols) or f"Fields of '{entity}': {', '.join(visible)}.",
    )
