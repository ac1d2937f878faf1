"""The model's YAML, parsed into frozen dataclasses (structure only, no source I/O).

Schema of ``entities:`` (full guide: models/README.md)::

    <entity>:                       # lower-case name, used bare in SQL
      # single source
      from: <source>.<table>
      fields: {<field>: <SQL expression over that table's columns>, ...}
      key: <field>                  # optional; targets of relations should have one
      # or a profile merged from several sources, in priority order
      key: <field>                  # the identity field every source maps
      merge:
        - {from: <source>.<table>, fields: {...}, updated_at: <expr>, unique: <bool>, name: <label>}
      survivorship: {<field>: {rule: most_recent} | {priority: [<label>, ...]}}
      identity: [<key>, <field>, ...]   # several identifiers: ID stitching
      stitching: {max_records_per_identifier: 50, max_cluster_size: 1000}
      members: [<label>, ...]       # sources that define who exists (default all)
      alternate_keys: [<field>, ...]    # other unique fields relations may join on
      id_field: customer_id         # stable id column of a profile
      # any entity
      pii: [<field>, ...]
      relations: {<name>: {entity: <entity>, on: {<field>: <target field>}}}
      description: <text>

``parse_entities`` checks the shape of the ``entities:`` section and collects
every problem with its file:line (from ``WorkspaceConfig.locations``) before
raising one ``ConfigError``. Checks that need the sources (tables, columns,
types) live in ``models.validate``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from federation.errors import Location, Problem

# Columns every profile entity adds; a declared field may not use these names.
SOURCES_FIELD = "_sources"
PROVENANCE_SUFFIX = "__source"
LINKS_SUFFIX = "__links"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_ENTITY_KEYS = {
    "from", "fields", "key", "merge", "survivorship", "identity", "stitching", "pii",
    "relations", "members", "id_field", "description", "alternate_keys",
}
_MERGE_KEYS = {"from", "fields", "updated_at", "unique", "name"}


@dataclass(frozen=True)
class SourceRef:
    """One source table an entity reads, with its field expressions."""

    label: str  # shown in _sources and provenance; the source name unless ambiguous
    source: str
    table: str
    fields: Mapping[str, exp.Expression]  # field -> expression over the table's columns
    updated_at: exp.Expression | None = None
    unique: bool = False  # the source promises at most one record per key
    path: str = ""  # key path, e.g. entities.customers.merge[0]


@dataclass(frozen=True)
class Rule:
    kind: Literal["priority", "most_recent"]
    priority: tuple[str, ...] = ()  # source labels, best first


@dataclass(frozen=True)
class Relation:
    name: str
    entity: str
    on: Mapping[str, str]  # local field -> field of the target entity


@dataclass(frozen=True)
class Entity:
    name: str
    sources: tuple[SourceRef, ...]
    key: str | None = None
    profile: bool = False
    survivorship: Mapping[str, Rule] = field(default_factory=dict)
    identity: tuple[str, ...] = ()
    max_records_per_identifier: int = 50
    max_cluster_size: int = 1000
    members: tuple[str, ...] = ()  # labels whose records define who exists (default: all)
    alternate_keys: tuple[str, ...] = ()  # other fields that identify at most one row
    pii: tuple[str, ...] = ()
    relations: Mapping[str, Relation] = field(default_factory=dict)
    id_field: str | None = None  # stable identifier column of a profile entity
    description: str | None = None
    location: Location | None = None

    @property
    def stitched(self) -> bool:
        return self.profile and len(self.identity) > 1

    def field_names(self) -> list[str]:
        out: list[str] = []
        for s in self.sources:
            out += [f for f in s.fields if f not in out]
        return out

    def providers(self, name: str) -> list[SourceRef]:
        """Sources that supply ``name``, in survivorship priority order."""
        have = [s for s in self.sources if name in s.fields]
        rule = self.survivorship.get(name)
        if rule is not None and rule.priority:
            rank = {label: i for i, label in enumerate(rule.priority)}
            have.sort(key=lambda s: rank.get(s.label, len(rank)))
        return have

    def columns(self) -> list[str]:
        """Every column the entity exposes, in display order."""
        names = self.field_names()
        if not self.profile:
            return names
        extra = [self.id_field] if self.id_field else []
        return extra + names + [SOURCES_FIELD] + [f + PROVENANCE_SUFFIX for f in names]


class _Ctx:
    def __init__(self, locations: Mapping[str, Location], default: Location) -> None:
        self.locations = locations
        self.default = default
        self.problems: list[Problem] = []

    def where(self, path: str) -> Location:
        probe = path
        while probe:
            if probe in self.locations:
                return self.locations[probe]
            probe = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", probe) if re.search(r"[.\[]", probe) else ""
        return Location(self.default.file, key_path=path)

    def add(self, path: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.where(path), message, hint))


def parse_expression(text: Any) -> exp.Expression:
    """A field expression: SQL over one table's columns (no subqueries, no tables)."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError("must be a column name or an SQL expression (a string)")
    try:
        node = sqlglot.parse_one(str(text), read="postgres")
    except SqlglotError as e:
        raise ValueError(f"is not a valid SQL expression ({str(e).splitlines()[0]})") from None
    if isinstance(node, (exp.Query, exp.Subquery)) or node.find(exp.Query, exp.Table) is not None:
        raise ValueError("may not contain a subquery; use an expression over the table's columns")
    bad = node.find(exp.AggFunc, exp.Window, exp.Star, exp.Placeholder, exp.Parameter)
    if bad is not None:
        raise ValueError(f"may not use {type(bad).__name__.lower()}: a field is computed per record")
    for col in node.find_all(exp.Column):
        if col.table:
            raise ValueError(f"refers to '{col.sql()}': write the bare column name of the source table")
    return node


def parse_entities(section: Mapping[str, Any], locations: Mapping[str, Location],
                   default: Location) -> tuple[dict[str, Entity], list[Problem]]:
    """Parse ``entities:``; returns the entities that parsed and every problem found."""
    ctx = _Ctx(locations, default)
    out: dict[str, Entity] = {}
    if not isinstance(section, Mapping):
        ctx.add("entities", "'entities' must be a mapping of entity name to definition")
        return out, ctx.problems
    for name, body in section.items():
        path = f"entities.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            ctx.add(path, f"entity name '{name}' must be lower case letters, digits and '_'")
            continue
        if not isinstance(body, Mapping):
            ctx.add(path, f"entity '{name}' must be a mapping (with 'from' and 'fields', or 'merge')")
            continue
        ent = _parse_entity(name, body, path, ctx)
        if ent is not None:
            out[name] = ent
    _check_relations(out, ctx)
    return out, ctx.problems


def _parse_entity(name: str, body: Mapping[str, Any], path: str, ctx: _Ctx) -> Entity | None:
    for k in body:
        if k not in _ENTITY_KEYS:
            from federation.errors import did_you_mean

            ctx.add(f"{path}.{k}", f"unknown key '{k}' in entity '{name}'", did_you_mean(str(k), sorted(_ENTITY_KEYS)))
    profile = "merge" in body
    if profile and "from" in body:
        ctx.add(path, f"entity '{name}' has both 'from' and 'merge'",
                "Use 'from' + 'fields' for one source, or 'merge' (a list) for several.")
        return None
    if not profile and "from" not in body:
        ctx.add(path, f"entity '{name}' needs 'from' (one source table) or 'merge' (several)")
        return None
    if profile:
        items = body.get("merge")
        if not isinstance(items, list) or not items:
            ctx.add(f"{path}.merge", "'merge' must be a non-empty list of {from, fields} entries")
            return None
        refs = [_parse_source(item, f"{path}.merge[{i}]", ctx, merge=True) for i, item in enumerate(items)]
    else:
        refs = [_parse_source(body, path, ctx, merge=False)]
    sources = _label(tuple(r for r in refs if r is not None))
    if len(sources) != len(refs):
        return None
    ent = Entity(
        name=name, sources=sources, key=body.get("key"), profile=profile,
        pii=tuple(_str_list(body.get("pii", []), f"{path}.pii", ctx)),
        description=body.get("description"), location=ctx.where(path),
        id_field=(body.get("id_field", "customer_id") if profile else None),
    )
    from models.spec_profile import finish_entity

    return finish_entity(ent, body, path, ctx)


def _label(refs: tuple[SourceRef, ...]) -> tuple[SourceRef, ...]:
    """Label each source by its source name, or source.table when a source repeats."""
    from dataclasses import replace

    counts: dict[str, int] = {}
    for r in refs:
        counts[r.source] = counts.get(r.source, 0) + 1
    return tuple(
        r if r.label else replace(r, label=r.source if counts[r.source] == 1 else f"{r.source}.{r.table}")
        for r in refs
    )


def _parse_source(body: Any, path: str, ctx: _Ctx, merge: bool) -> SourceRef | None:
    if not isinstance(body, Mapping):
        ctx.add(path, "a merge entry must be a mapping with 'from' and 'fields'")
        return None
    if merge:
        for k in body:
            if k not in _MERGE_KEYS:
                ctx.add(f"{path}.{k}", f"unknown key '{k}' in a merge entry",
                        f"Known keys: {', '.join(sorted(_MERGE_KEYS))}.")
    frm = body.get("from")
    if not isinstance(frm, str) or frm.count(".") != 1 or not all(frm.split(".")):
        ctx.add(f"{path}.from", f"'from' must be source.table, got {frm!r}")
        return None
    source, table = (p.lower() for p in frm.split("."))
    fields_in = body.get("fields")
    if not isinstance(fields_in, Mapping) or not fields_in:
        ctx.add(f"{path}.fields", "'fields' must map field names to columns or SQL expressions")
        return None
    fields: dict[str, exp.Expression] = {}
    for fname, text in fields_in.items():
        fpath = f"{path}.fields.{fname}"
        if not isinstance(fname, str) or not _NAME.match(fname):
            ctx.add(fpath, f"field name '{fname}' must be lower case letters, digits and '_'")
            continue
        if fname == SOURCES_FIELD or fname.endswith(PROVENANCE_SUFFIX):
            ctx.add(fpath, f"field name '{fname}' is reserved for lineage columns")
            continue
        try:
            fields[fname] = parse_expression(text)
        except ValueError as e:
            ctx.add(fpath, f"field '{fname}' {e}")
    updated_at = None
    if body.get("updated_at") is not None:
        try:
            updated_at = parse_expression(body["updated_at"])
        except ValueError as e:
            ctx.add(f"{path}.updated_at", f"'updated_at' {e}")
    unique = body.get("unique", False)
    if not isinstance(unique, bool):
        ctx.add(f"{path}.unique", "'unique' must be true or false")
        unique = False
    label = body.get("name") or ""
    return SourceRef(label=str(label), source=source, table=table, fields=fields,
                     updated_at=updated_at, unique=unique, path=path)


def _str_list(value: Any, path: str, ctx: _Ctx) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        ctx.add(path, "must be a list of names")
        return []
    return list(value)


def _check_relations(entities: Mapping[str, Entity], ctx: _Ctx) -> None:
    for ent in entities.values():
        for rel in ent.relations.values():
            path = f"entities.{ent.name}.relations.{rel.name}"
            target = entities.get(rel.entity)
            if target is None:
                from federation.errors import did_you_mean

                ctx.add(f"{path}.entity", f"relation '{rel.name}' of '{ent.name}' names unknown entity '{rel.entity}'",
                        did_you_mean(rel.entity, list(entities)))
                continue
            for local, remote in rel.on.items():
                if local not in ent.columns():
                    ctx.add(f"{path}.on", f"relation '{rel.name}': '{ent.name}' has no field '{local}'")
                if remote not in target.columns():
                    ctx.add(f"{path}.on", f"relation '{rel.name}': '{target.name}' has no field '{remote}'")
