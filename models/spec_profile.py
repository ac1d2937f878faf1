"""The profile-entity parts of the YAML: key, survivorship, identity, stitching, relations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from federation.errors import did_you_mean
from models.spec import Entity, Relation, Rule, _str_list

if TYPE_CHECKING:
    from models.spec import _Ctx


def finish_entity(ent: Entity, body: Mapping[str, Any], path: str, ctx: _Ctx) -> Entity:
    fields = ent.field_names()
    labels = [s.label for s in ent.sources]
    key = ent.key
    if key is not None and (not isinstance(key, str) or key not in fields):
        ctx.add(f"{path}.key", f"key '{key}' of '{ent.name}' is not one of its fields",
                did_you_mean(str(key), fields) or f"Fields: {', '.join(fields)}.")
        key = None
    if ent.profile:
        if key is None and "key" not in body:
            ctx.add(path, f"profile entity '{ent.name}' needs 'key': the identity field its sources merge on")
        for s in ent.sources:
            if key is not None and key not in s.fields:
                ctx.add(f"{s.path}.fields", f"merge source '{s.label}' of '{ent.name}' does not map the key '{key}'",
                        "Every merged source must say how to compute the identity key (e.g. email: lower(trim(email))).")
        if len(set(labels)) != len(labels):
            ctx.add(f"{path}.merge", f"entity '{ent.name}' merges the same source twice under one name",
                    "Give each entry a distinct 'name'.")
    ent = replace(ent, key=key)
    ent = replace(ent, survivorship=_survivorship(ent, body.get("survivorship"), f"{path}.survivorship", ctx))
    ent = _identity(ent, body, path, ctx)
    ent = replace(ent, members=tuple(_labels(body.get("members"), labels, f"{path}.members", ctx)))
    alt = _str_list(body.get("alternate_keys", []), f"{path}.alternate_keys", ctx)
    for a in alt:
        if a not in fields:
            ctx.add(f"{path}.alternate_keys", f"alternate key '{a}' is not a field of '{ent.name}'", did_you_mean(a, fields))
    ent = replace(ent, alternate_keys=tuple(a for a in alt if a in fields))
    ent = replace(ent, relations=_relations(ent, body.get("relations"), f"{path}.relations", ctx))
    if ent.id_field is not None and (not isinstance(ent.id_field, str) or ent.id_field in fields):
        ctx.add(f"{path}.id_field", f"id_field '{ent.id_field}' clashes with a declared field",
                "Name the stable identifier column differently (id_field: ...).")
    for p in ent.pii:
        if p not in fields:
            ctx.add(f"{path}.pii", f"pii field '{p}' is not a field of '{ent.name}'", did_you_mean(p, fields))
    return ent


def _labels(value: Any, labels: list[str], path: str, ctx: _Ctx) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        ctx.add(path, "must be a list of source names")
        return []
    for v in value:
        if v not in labels:
            ctx.add(path, f"'{v}' is not one of the entity's sources", did_you_mean(v, labels)
                    or f"Sources: {', '.join(labels)}.")
    return [v for v in value if v in labels]


def _survivorship(ent: Entity, value: Any, path: str, ctx: _Ctx) -> dict[str, Rule]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        ctx.add(path, "'survivorship' must map field names to {rule: most_recent} or {priority: [...]}")
        return {}
    fields = ent.field_names()
    labels = [s.label for s in ent.sources]
    out: dict[str, Rule] = {}
    for fname, spec in value.items():
        fpath = f"{path}.{fname}"
        if fname not in fields:
            ctx.add(fpath, f"survivorship names unknown field '{fname}'", did_you_mean(str(fname), fields))
            continue
        if not isinstance(spec, Mapping):
            ctx.add(fpath, "a survivorship rule is {rule: most_recent} or {priority: [source, ...]}")
            continue
        if spec.get("rule") == "most_recent":
            missing = [s.label for s in ent.sources if fname in s.fields and s.updated_at is None]
            if missing:
                ctx.add(fpath, f"'most_recent' for '{fname}' needs updated_at on {', '.join(missing)}",
                        "Declare updated_at: <column> on those merge entries.")
            out[fname] = Rule("most_recent")
        elif "priority" in spec:
            out[fname] = Rule("priority", tuple(_labels(spec["priority"], labels, f"{fpath}.priority", ctx)))
        else:
            ctx.add(fpath, f"unknown survivorship rule {dict(spec)!r}",
                    "Use {rule: most_recent} or {priority: [source, ...]}.")
    return out


def _identity(ent: Entity, body: Mapping[str, Any], path: str, ctx: _Ctx) -> Entity:
    ident = body.get("identity")
    if ident is None:
        return replace(ent, identity=(ent.key,) if ent.key and ent.profile else ())
    if not ent.profile:
        ctx.add(f"{path}.identity", "'identity' only applies to entities that 'merge' several sources")
        return ent
    if not isinstance(ident, list) or not all(isinstance(i, str) for i in ident) or not ident:
        ctx.add(f"{path}.identity", "'identity' must be a list of field names (the identifiers to stitch on)")
        return ent
    fields = ent.field_names()
    for i in ident:
        if i not in fields:
            ctx.add(f"{path}.identity", f"identity field '{i}' is not a field of '{ent.name}'", did_you_mean(i, fields))
    if ent.key and ident[0] != ent.key:
        ctx.add(f"{path}.identity", f"the first identity field must be the key '{ent.key}'",
                "List the key first: it names the stable identifier of a stitched customer.")
    stitch = body.get("stitching") or {}
    caps = {}
    for k, default in (("max_records_per_identifier", 50), ("max_cluster_size", 1000)):
        v = stitch.get(k, default) if isinstance(stitch, Mapping) else default
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            ctx.add(f"{path}.stitching.{k}", f"'{k}' must be a positive integer")
            v = default
        caps[k] = v
    return replace(ent, identity=tuple(i for i in ident if i in fields), **caps)


def _relations(ent: Entity, value: Any, path: str, ctx: _Ctx) -> dict[str, Relation]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        ctx.add(path, "'relations' must map relation names to {entity: ..., on: {field: field}}")
        return {}
    out: dict[str, Relation] = {}
    for rname, spec in value.items():
        rpath = f"{path}.{rname}"
        if isinstance(spec, Mapping) and "on" not in spec and True in spec:
            # YAML 1.1 reads a bare `on:` key as the boolean true
            spec = {("on" if k is True else k): v for k, v in spec.items()}
        if not isinstance(spec, Mapping) or not isinstance(spec.get("entity"), str) \
                or not isinstance(spec.get("on"), Mapping) or not spec["on"]:
            ctx.add(rpath, f"relation '{rname}' needs entity: <name> and on: {{local_field: target_field}}")
            continue
        out[str(rname)] = Relation(str(rname), spec["entity"], {str(k): str(v) for k, v in spec["on"].items()})
    return out
