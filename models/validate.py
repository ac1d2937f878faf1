"""``cdp model validate``: every problem of the model at once, each with file:line.

Checks, beyond the YAML shape (``models.spec``): unknown sources, tables and
columns (with did-you-mean), type conflicts between the merged sources of one
field, relation cycles, and ambiguous keys (a relation that does not join on
the target's key, which would multiply rows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from federation.errors import ConfigError, Location, Problem, SourceError, did_you_mean
from models.spec import Entity, SourceRef, _Ctx, parse_entities

if TYPE_CHECKING:
    from federation.workspace import Workspace

_FAMILIES = {
    "text": {"TEXT", "VARCHAR", "CHAR", "NCHAR", "NVARCHAR", "UUID", "NAME"},
    "number": {"TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL", "UBIGINT", "UINT"},
    "boolean": {"BOOLEAN"},
    "time": {"DATE", "TIMESTAMP", "TIMESTAMPTZ", "DATETIME", "TIME", "TIMESTAMPLTZ"},
}


def validate_model(ws: Workspace) -> tuple[dict[str, Entity], list[Problem], dict[str, dict[str, str]]]:
    """Entities, every problem, and the SQL type of each field per source label."""
    section = ws.config.sections.get("entities") or {}
    from models.model import _default_location

    default = _default_location(ws)
    entities, problems = parse_entities(section, ws.config.locations, default)
    ctx = _Ctx(ws.config.locations, default)
    ctx.problems = problems
    types: dict[str, dict[str, str]] = {}
    for ent in entities.values():
        field_types: dict[str, dict[str, str]] = {}
        for src in ent.sources:
            for fname, t in _source_types(ws, ent, src, ctx).items():
                field_types.setdefault(fname, {})[src.label] = t
        upd = field_types.pop("_updated_at", {})
        _type_conflicts(ent, field_types, ctx)
        _recency_conflicts(ent, upd, ctx)
        types[ent.name] = {f: next(iter(v.values())) for f, v in field_types.items()}
        _identity_coverage(ent, ctx)
    _relation_checks(entities, ctx)
    return entities, ctx.problems, types


def check_model(ws: Workspace) -> dict[str, Entity]:
    """Raise ConfigError listing every problem; return the entities when there is none."""
    entities, problems, _ = validate_model(ws)
    if problems:
        raise ConfigError(problems)
    return entities


def _source_types(ws: Workspace, ent: Entity, src: SourceRef, ctx: _Ctx) -> dict[str, str]:
    names = list(ws.catalog.source_names)
    if src.source not in names:
        ctx.add(f"{src.path}.from", f"entity '{ent.name}' reads unknown source '{src.source}'",
                did_you_mean(src.source, names) or f"Sources: {', '.join(names) or '(none)'}.")
        return {}
    try:
        tables = ws.catalog.tables(src.source)
    except SourceError as e:
        ctx.add(f"{src.path}.from", f"cannot check '{src.source}.{src.table}': {e.message}")
        return {}
    info = tables.get(src.table)
    if info is None:
        ctx.add(f"{src.path}.from", f"table '{src.source}.{src.table}' does not exist",
                did_you_mean(f"{src.source}.{src.table}", [f"{src.source}.{t}" for t in tables])
                or f"Tables of '{src.source}': {', '.join(sorted(tables)) or '(none)'}.")
        return {}
    exprs: dict[str, exp.Expression] = dict(src.fields)
    if src.updated_at is not None:
        exprs["\x00updated_at"] = src.updated_at
    ok: dict[str, exp.Expression] = {}
    for fname, node in exprs.items():
        shown = fname.lstrip("\x00")
        path = f"{src.path}.{shown}" if fname.startswith("\x00") else f"{src.path}.fields.{fname}"
        missing = [c.name for c in node.find_all(exp.Column) if info.column(c.name) is None]
        for m in missing:
            ctx.add(path, f"column '{m}' does not exist in {src.source}.{src.table} (field '{shown}' of '{ent.name}')",
                    did_you_mean(m, info.column_names) or f"Columns: {', '.join(info.column_names)}.")
        if not missing:
            ok[fname] = node
    return {f.replace("\x00", "_"): t for f, t in _annotate(ws, src, ok).items()}


def _annotate(ws: Workspace, src: SourceRef, exprs: dict[str, exp.Expression]) -> dict[str, str]:
    if not exprs:
        return {}
    schema = ws.catalog.schema_for({(src.source, src.table)})
    sel = exp.select(*[exp.alias_(e.copy(), f"c{i}") for i, e in enumerate(exprs.values())]).from_(
        exp.Table(this=exp.to_identifier(src.table), db=exp.to_identifier(src.source)))
    try:
        typed = annotate_types(qualify(sel, schema=schema, dialect="postgres"), schema=schema)
    except Exception:  # an expression sqlglot cannot type: report it as unknown, not a crash
        return {f: "UNKNOWN" for f in exprs}
    return {f: (s.type.sql(dialect="postgres").upper() if s.type else "UNKNOWN")
            for f, s in zip(exprs, typed.selects)}


def family(sql_type: str) -> str | None:
    base = sql_type.split("(")[0].strip().upper()
    for fam, names in _FAMILIES.items():
        if base in names:
            return fam
    return None


def _type_conflicts(ent: Entity, field_types: dict[str, dict[str, str]], ctx: _Ctx) -> None:
    for fname, per in field_types.items():
        fams = {label: family(t) for label, t in per.items()}
        known = {f for f in fams.values() if f is not None}
        if len(known) > 1:
            desc = ", ".join(f"{label}: {per[label].lower()}" for label in per)
            src = next(s for s in ent.sources if s.label == list(per)[-1])
            ctx.add(f"{src.path}.fields.{fname}", f"field '{fname}' of '{ent.name}' has conflicting types ({desc})",
                    f"Cast it in every source to one type, e.g. {fname}: \"CAST(... AS TEXT)\".")


def _recency_conflicts(ent: Entity, upd: dict[str, str], ctx: _Ctx) -> None:
    """most_recent compares updated_at across sources: they must be comparable."""
    if not any(r.kind == "most_recent" for r in ent.survivorship.values()):
        return
    fams = {label: family(t) for label, t in upd.items()}
    if len({f for f in fams.values() if f is not None}) > 1:
        desc = ", ".join(f"{label}: {t.lower()}" for label, t in upd.items())
        src = next(s for s in ent.sources if s.label == list(upd)[-1])
        ctx.add(f"{src.path}.updated_at", f"updated_at of '{ent.name}' has conflicting types ({desc}); "
                "most_recent compares them across sources", "Cast them to one type (e.g. a timestamp).")


def _identity_coverage(ent: Entity, ctx: _Ctx) -> None:
    if not ent.stitched:
        return
    for s in ent.sources:
        if not any(i in s.fields for i in ent.identity):
            ctx.add(f"{s.path}.fields", f"merge source '{s.label}' of '{ent.name}' maps none of the identity fields "
                    f"({', '.join(ent.identity)})", "Map at least one identifier, or its records can never be merged.")


def _relation_checks(entities: dict[str, Entity], ctx: _Ctx) -> None:
    for ent in entities.values():
        for rel in ent.relations.values():
            target = entities.get(rel.entity)
            if target is None:
                continue
            keys = {k for k in (target.key, target.id_field, *target.alternate_keys) if k}
            path = f"entities.{ent.name}.relations.{rel.name}.on"
            if not keys:
                ctx.add(path, f"relation '{rel.name}' of '{ent.name}' is ambiguous: '{target.name}' declares no key",
                        f"Declare key: <field> on '{target.name}' so each {ent.name} row matches at most one row.")
            elif not set(rel.on.values()) & keys:
                ctx.add(path, f"relation '{rel.name}' of '{ent.name}' joins on {', '.join(rel.on.values())}, not on "
                        f"the key of '{target.name}' ({', '.join(sorted(keys))}): ambiguous, it can match many rows")
    for cycle in _cycles(entities):
        start = entities[cycle[0]]
        rel = next(r for r in start.relations.values() if r.entity == cycle[1 % len(cycle)])
        ctx.add(f"entities.{start.name}.relations.{rel.name}", "relation cycle: " + " → ".join([*cycle, cycle[0]]),
                "Declare each relation once, on the side that holds the reference (e.g. orders → customers).")


def _cycles(entities: dict[str, Entity]) -> list[list[str]]:
    # a relation of an entity to itself (referred_by) is a tree, not a cycle
    graph = {n: sorted({r.entity for r in e.relations.values() if r.entity in entities and r.entity != n})
             for n, e in entities.items()}
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def walk(node: str, path: list[str]) -> None:
        for nxt in graph[node]:
            if nxt in path:
                cyc = path[path.index(nxt):]
                if frozenset(cyc) not in seen:
                    seen.add(frozenset(cyc))
                    found.append(cyc)
            elif len(path) < len(graph):
                walk(nxt, [*path, nxt])

    for n in sorted(graph):
        walk(n, [n])
    return found


def location_of(ws: Workspace, path: str) -> Location:
    from models.model import _default_location

    return _Ctx(ws.config.locations, _default_location(ws)).where(path)


def describe(ent: Entity, types: dict[str, str]) -> dict[str, Any]:
    """The JSON shape of ``cdp model show`` for one entity."""
    from models.describe import entity_json

    return entity_json(ent, types)
