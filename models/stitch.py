"""ID stitching: records of several sources that share any identifier are one customer.

At query time, for an entity with ``identity: [email, phone, ...]``:

1. Each merged source is asked (through the planner, so filters and projection
   are pushed) for its records' identifiers, normalised by the field
   expressions and cast to text (empty text counts as missing). A *record* is a
   distinct tuple of identifier values within one source, named by its ``link``
   (the values joined with U+001F); records with equal identifiers are one record.
2. An identifier carried by more than ``max_records_per_identifier`` records (a
   shared office e-mail, a placeholder phone) is a *hub*: it links nothing; it
   is kept in the trace with ``linked = false`` and counted in explain notes.
3. Records are the nodes of a graph whose edges join records sharing a
   non-hub identifier; connected components (``models.components``, vectorised
   in pyarrow) are the customers. A component over ``max_cluster_size`` records
   is an error.
4. Each customer's stable id is the MD5 of its smallest identifier of the
   earliest identity type (the key: ``md5(value)``, so a customer seen under
   one e-mail gets the same id as on the single-key path; other types:
   ``md5(type || ':' || value)``); a record with only hub identifiers gets
   ``md5('record:' || source || ':' || link)``.

Results are served by an in-memory connector ``_model``: ``<entity>__map<i>``
(link → cluster) joined into each source's subquery, and ``<entity>__links``,
the "why merged" trace, queryable as the entity ``<entity>__links``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from federation.errors import UserError
from models.components import components
from models.spec import LINKS_SUFFIX, Entity, SourceRef

if TYPE_CHECKING:
    from federation.workspace import Workspace

MODEL_SOURCE = "_model"
SEP = "\x1f"
LINK_COLUMNS = ("customer_id", "source", "record", "identifier", "value", "linked", "records_sharing")


@dataclass
class StitchResult:
    maps: dict[int, exp.Table]
    links: dict[int, tuple[exp.Expression, exp.Expression]]
    links_table: exp.Table


def identity_exprs(ent: Entity, src: SourceRef) -> list[tuple[int, exp.Expression]]:
    """(identity rank, text expression) for each identity field the source maps."""
    out = []
    for rank, name in enumerate(ent.identity):
        if name in src.fields:
            text = exp.cast(exp.paren(src.fields[name].copy()), "text")
            out.append((rank, exp.Nullif(this=text, expression=exp.Literal.string(""))))
    return out


def link_exprs(ent: Entity, src: SourceRef) -> tuple[exp.Expression, exp.Expression]:
    ids = [e for _, e in identity_exprs(ent, src)]
    parts: list[exp.Expression] = [exp.Coalesce(this=e.copy(), expressions=[exp.Literal.string("")]) for e in ids]
    link = parts[0]
    for p in parts[1:]:
        link = exp.DPipe(this=exp.DPipe(this=link, expression=exp.Literal.string(SEP)), expression=p, safe=True)
    has_id = None
    for e in ids:
        c = exp.Not(this=exp.Is(this=e.copy(), expression=exp.Null()))
        has_id = c if has_id is None else exp.or_(has_id, c)
    return link, has_id  # type: ignore[return-value]


def _fetch(ws: Workspace, ent: Entity, i: int) -> pa.Table:
    src = ent.sources[i]
    link, has_id = link_exprs(ent, src)
    cols = [exp.alias_(link, "_link", quoted=True)]
    cols += [exp.alias_(e, f"_id{rank}", quoted=True) for rank, e in identity_exprs(ent, src)]
    table = exp.Table(this=exp.to_identifier(src.table), db=exp.to_identifier(src.source))
    sql = exp.select(*cols).from_(table).where(has_id).sql(dialect="postgres")
    return ws.query(sql)


def stitch_entity(ws: Workspace, ent: Entity, notes: list[str]) -> StitchResult:
    t0 = time.perf_counter()
    with ws.model.internal():
        per_source = [_fetch(ws, ent, i) for i in range(len(ent.sources))]
    nodes, long = _records(ent, per_source)
    result = _cluster(ent, nodes, long)
    conn = _register(ws)
    name = ent.name
    for i in range(len(ent.sources)):
        mask = pc.equal(nodes["src"], i)
        conn.set_table(f"{name}__map{i}", pa.table({"link": nodes["link"].filter(mask),
                                                    "cluster": result["node_cluster"].filter(mask)}))
    conn.set_table(name + LINKS_SUFFIX, result["trace"])
    ws.add_connector(MODEL_SOURCE, conn)
    hubs = result["hubs"]
    notes.append(
        f"entity {name}: stitched {nodes.num_rows} records from {len(ent.sources)} sources into "
        f"{result['customers']} customers (largest {result['largest']} records) in {time.perf_counter() - t0:.3f} s"
    )
    if hubs:
        what = ", ".join(f"{ent.identity[r]}: {c}" for r, c in sorted(hubs.items()))
        notes.append(f"entity {name}: {sum(hubs.values())} identifier(s) shared by more than "
                     f"{ent.max_records_per_identifier} records excluded from stitching ({what}); "
                     f"see {name}{LINKS_SUFFIX} WHERE NOT linked")
    maps = {i: _model_table(f"{name}__map{i}", "mp") for i in range(len(ent.sources))}
    links = {i: link_exprs(ent, s) for i, s in enumerate(ent.sources)}
    return StitchResult(maps, links, _model_table(name + LINKS_SUFFIX, None))


def _model_table(name: str, alias: str | None) -> exp.Table:
    t = exp.Table(this=exp.to_identifier(name), db=exp.to_identifier(MODEL_SOURCE))
    if alias:
        t.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    return t


def _register(ws: Workspace):  # type: ignore[no-untyped-def]
    from connectors.memory import MemoryConnector

    try:
        conn = ws.connector(MODEL_SOURCE)
        if isinstance(conn, MemoryConnector):
            return conn
    except Exception:  # not registered yet
        pass
    return MemoryConnector(MODEL_SOURCE)


def _records(ent: Entity, per_source: list[pa.Table]) -> tuple[pa.Table, pa.Table]:
    """Nodes (src, link) and the long form (node, rank, value) of their identifiers.

    Records with the same link carry the same identifiers, so each distinct link
    is one node, read from its first row (hash lookups, no sort or group-by)."""
    node_parts, long_parts = [], []
    offset = 0
    for i, t in enumerate(per_source):
        fetched = t["_link"].combine_chunks().cast(pa.string())
        links = pc.unique(fetched)
        n = len(links)
        first = pc.index_in(links, value_set=fetched)  # row of each link's first occurrence
        node_parts.append(pa.table({"src": pa.repeat(pa.scalar(i, pa.int32()), n), "link": links}))
        node_ids = pa.array(range(offset, offset + n), pa.int64())
        for name in t.column_names:
            if not name.startswith("_id"):
                continue
            vals = pc.take(t[name].combine_chunks().cast(pa.string()), first)
            keep = pc.is_valid(vals)
            count = int(pc.sum(keep.cast(pa.int64())).as_py() or 0)
            long_parts.append(pa.table({"node": node_ids.filter(keep),
                                        "rank": pa.repeat(pa.scalar(int(name[3:]), pa.int32()), count),
                                        "value": vals.filter(keep)}))
        offset += n
    empty_nodes = pa.table({"src": pa.array([], pa.int32()), "link": pa.array([], pa.string())})
    nodes = pa.concat_tables(node_parts) if node_parts else empty_nodes
    schema = pa.schema([("node", pa.int64()), ("rank", pa.int32()), ("value", pa.string())])
    long = pa.concat_tables([p.cast(schema) for p in long_parts]) if long_parts else schema.empty_table()
    return nodes, long


def _cluster(ent: Entity, nodes: pa.Table, long: pa.Table) -> dict:  # type: ignore[type-arg]
    groups = long.group_by(["rank", "value"]).aggregate([("node", "count"), ("node", "min")])
    hub_mask = pc.greater(groups["node_count"], ent.max_records_per_identifier)
    hubs_t = groups.filter(hub_mask)
    hubs = {r: c for r, c in zip(*(hubs_t.group_by("rank").aggregate([("rank", "count")]).column(k).to_pylist()
                                  for k in ("rank", "rank_count")))}
    joined = long.join(groups, keys=["rank", "value"], join_type="inner")  # every row matches once
    linked = joined.filter(pc.less_equal(joined["node_count"], ent.max_records_per_identifier))
    edges = linked.filter(pc.not_equal(linked["node"], linked["node_min"]))
    n = nodes.num_rows
    labels, _ = components(edges["node"].combine_chunks(), edges["node_min"].combine_chunks(), n)
    sizes = pa.table({"label": labels}).group_by("label").aggregate([("label", "count")])
    largest = pc.max(sizes["label_count"]).as_py() or 0
    if largest > ent.max_cluster_size:
        raise UserError(
            f"identity stitching of entity '{ent.name}' joined {largest} records into one customer, over "
            f"stitching.max_cluster_size ({ent.max_cluster_size})",
            detail=f"  entity defined at {ent.location}" if ent.location else None,
            hint="A shared identifier probably links unrelated customers: lower "
                 "stitching.max_records_per_identifier, fix the normalisation, or raise max_cluster_size.",
        )
    node_cluster = _cluster_ids(ent, nodes, linked, labels, sizes)
    trace = _trace(ent, nodes, joined, node_cluster)
    return {"node_cluster": node_cluster, "trace": trace, "hubs": hubs, "largest": largest,
            "customers": sizes.num_rows}


def _cluster_ids(ent: Entity, nodes: pa.Table, linked: pa.Table, labels: pa.Array, sizes: pa.Table) -> pa.Array:
    rank_txt = pc.utf8_lpad(linked["rank"].cast(pa.string()), 4, "0")
    keyed = pa.table({"label": pc.take(labels, linked["node"]),
                      "canon": pc.binary_join_element_wise(rank_txt, linked["value"], SEP)})
    canon = keyed.group_by("label").aggregate([("canon", "min")])
    by_label = dict(zip(canon["label"].to_pylist(), canon["canon_min"].to_pylist()))
    ids = []
    srcs, links = nodes["src"].to_pylist(), nodes["link"].to_pylist()
    for label in sizes["label"].to_pylist():
        c = by_label.get(label)
        if c is None:
            text = f"record:{ent.sources[srcs[label]].label}:{links[label]}"
        else:
            rank, value = c.split(SEP, 1)
            text = value if int(rank) == 0 else f"{ent.identity[int(rank)]}:{value}"
        ids.append(hashlib.md5(text.encode("utf-8")).hexdigest())
    slot = pc.index_in(labels, value_set=sizes["label"].combine_chunks())
    return pc.take(pa.array(ids, pa.string()), slot)


def _trace(ent: Entity, nodes: pa.Table, g: pa.Table, node_cluster: pa.Array) -> pa.Table:
    labels = pa.array([s.label for s in ent.sources], pa.string())
    names = pa.array(list(ent.identity), pa.string())
    return pa.table({
        "customer_id": pc.take(node_cluster, g["node"]),
        "source": pc.take(labels, pc.take(nodes["src"], g["node"])),
        "record": pc.replace_substring(pc.take(nodes["link"], g["node"]), SEP, " | "),
        "identifier": pc.take(names, g["rank"]),
        "value": g["value"],
        "linked": pc.less_equal(g["node_count"], ent.max_records_per_identifier),
        "records_sharing": g["node_count"],
    })
