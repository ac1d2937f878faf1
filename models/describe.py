"""What ``cdp model show`` prints: a JSON document per entity, and a rich tree.

JSON shape (stable)::

    {"name", "kind": "profile"|"single", "key", "id_field", "identity": [...],
     "stitching": {"max_records_per_identifier", "max_cluster_size"} | null,
     "members": [...], "alternate_keys": [...], "location": "file:line",
     "sources": [{"name", "from", "unique", "updated_at"}],
     "fields": [{"name", "type", "pii", "survivorship", "sources": [{"source", "expression"}]}],
     "lineage": [{"name", "description"}],
     "relations": [{"name", "entity", "on": {local: target}}]}
"""

from __future__ import annotations

from typing import Any

from models.spec import LINKS_SUFFIX, PROVENANCE_SUFFIX, SOURCES_FIELD, Entity


def _rule_text(ent: Entity, name: str) -> str | None:
    if not ent.profile:
        return None
    if name == ent.key and not ent.stitched:
        return "merge key"
    rule = ent.survivorship.get(name)
    order = " > ".join(s.label for s in ent.providers(name))
    if rule is not None and rule.kind == "most_recent":
        return f"most recent by updated_at (ties: {order})"
    return f"first non-null: {order}"


def entity_json(ent: Entity, types: dict[str, str] | None = None) -> dict[str, Any]:
    types = types or {}
    fields = []
    for f in ent.field_names():
        fields.append({
            "name": f,
            "type": types.get(f, "unknown").lower(),
            "pii": f in ent.pii,
            "survivorship": _rule_text(ent, f),
            "sources": [{"source": s.label, "expression": s.fields[f].sql(dialect="postgres")}
                        for s in ent.providers(f)],
        })
    lineage = []
    if ent.profile:
        if ent.id_field:
            how = "md5 of the cluster's smallest identifier" if ent.stitched else f"md5 of {ent.key}"
            lineage.append({"name": ent.id_field, "description": f"stable customer identifier ({how})"})
        lineage.append({"name": SOURCES_FIELD, "description": "sources the customer was seen in, ';'-joined"})
        lineage.append({"name": "<field>" + PROVENANCE_SUFFIX,
                        "description": "the source each field's value came from (hidden from SELECT *)"})
        if ent.stitched:
            lineage.append({"name": ent.name + LINKS_SUFFIX,
                            "description": "entity: why records were merged (identifier, value, source record)"})
    return {
        "name": ent.name,
        "kind": "profile" if ent.profile else "single",
        "key": ent.key,
        "id_field": ent.id_field,
        "identity": list(ent.identity),
        "stitching": ({"max_records_per_identifier": ent.max_records_per_identifier,
                       "max_cluster_size": ent.max_cluster_size} if ent.stitched else None),
        "members": list(ent.members),
        "alternate_keys": list(ent.alternate_keys),
        "location": str(ent.location) if ent.location else None,
        "sources": [{"name": s.label, "from": f"{s.source}.{s.table}", "unique": s.unique,
                     "updated_at": s.updated_at.sql(dialect="postgres") if s.updated_at is not None else None}
                    for s in ent.sources],
        "fields": fields,
        "lineage": lineage,
        "relations": [{"name": r.name, "entity": r.entity, "on": dict(r.on)} for r in ent.relations.values()],
    }


def render_tree(docs: list[dict[str, Any]]) -> Any:
    """A rich renderable: one tree per entity, then the relation graph."""
    from rich.console import Group
    from rich.markup import escape
    from rich.tree import Tree

    parts: list[Any] = []
    for d in docs:
        head = f"[bold]{d['name']}[/bold] ({d['kind']}"
        if d["key"]:
            head += f", key {d['key']}"
        head += ")"
        tree = Tree(head)
        src = tree.add("sources")
        for s in d["sources"]:
            extra = [x for x in ("unique" if s["unique"] else "", f"updated_at {s['updated_at']}" if s["updated_at"] else "") if x]
            src.add(f"{escape(s['name'])}: {escape(s['from'])}" + (f"  [dim]({', '.join(extra)})[/dim]" if extra else ""))
        fl = tree.add("fields")
        for f in d["fields"]:
            origin = ", ".join(f"{x['source']}: {x['expression']}" for x in f["sources"])
            label = f"{f['name']}  [cyan]{f['type']}[/cyan]" + ("  [red]pii[/red]" if f["pii"] else "")
            node = fl.add(label + f"  ← {escape(origin)}")
            if f["survivorship"] and len(f["sources"]) > 1:
                node.add(f"[dim]{escape(f['survivorship'])}[/dim]")
        if d["identity"] and (len(d["identity"]) > 1 or d["kind"] == "profile"):
            idn = tree.add("identity: " + ", ".join(d["identity"]))
            if d["stitching"]:
                idn.add(f"stitching: max {d['stitching']['max_records_per_identifier']} records per identifier, "
                        f"max {d['stitching']['max_cluster_size']} records per customer")
        if d["lineage"]:
            lin = tree.add("lineage")
            for x in d["lineage"]:
                lin.add(f"{escape(x['name'])}  [dim]{escape(x['description'])}[/dim]")
        if d["relations"]:
            rel = tree.add("relations")
            for r in d["relations"]:
                on = ", ".join(f"{k} = {r['entity']}.{v}" for k, v in r["on"].items())
                rel.add(f"{r['name']} → {r['entity']}  [dim]({escape(on)})[/dim]")
        parts.append(tree)
    edges = [f"{d['name']} ──{r['name']}──▶ {r['entity']}" for d in docs for r in d["relations"]]
    if len(docs) > 1 and edges:
        graph = Tree("[bold]relations[/bold]")
        for e in edges:
            graph.add(escape(e))
        parts.append(graph)
    return Group(*parts)
