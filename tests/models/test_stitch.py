"""ID stitching: components vs a reference union-find, hubs, the ceiling, the trace."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
import yaml

from federation.errors import Location, UserError
from models.components import components, reference_components
from models.spec import parse_entities
from models.stitch import _cluster, _records
from tests.models.data import STITCH_YAML, stitch_sources
from tests.models.helpers import canon, duck, executor_ready, make_ws, rows


def _entity(cap: int = 3, ceiling: int = 1000):  # type: ignore[no-untyped-def]
    text = STITCH_YAML.replace("max_records_per_identifier: 3", f"max_records_per_identifier: {cap}")
    text = text.replace("max_cluster_size: 50", f"max_cluster_size: {ceiling}")
    ents, problems = parse_entities(yaml.safe_load(text), {}, Location("model.yaml"))
    assert problems == []
    return ents["customers"]


def _graph(kind: str, rng: random.Random) -> list[tuple[str | None, str | None]]:
    """(email, phone) records of one source."""
    if kind == "chain":  # e0-p0-e1-p1-...: every record shares one id with the next
        return [(f"e{i // 2}", f"p{(i + 1) // 2}") for i in range(40)]
    if kind == "star":  # one phone, many e-mails
        return [(f"e{i}", "p-star") for i in range(8)]
    if kind == "hub":  # a phone over the cap would join everyone; it must not
        return [(f"e{i}", "p-hub") for i in range(12)] + [(f"e{i}", None) for i in range(3)]
    return [(rng.choice([None, f"e{rng.randrange(60)}"]), rng.choice([None, f"p{rng.randrange(60)}"]))
            for _ in range(120)]


def _source_table(recs: list[tuple[str | None, str | None]]) -> pa.Table:
    recs = [r for r in recs if r != (None, None)]
    return pa.table({
        "_link": [f"{e or ''}\x1f{p or ''}" for e, p in recs],
        "_id0": pa.array([e for e, _ in recs], pa.string()),
        "_id1": pa.array([p for _, p in recs], pa.string()),
    })


def _reference(nodes: pa.Table, long: pa.Table, cap: int) -> list[int]:
    by_id: dict[tuple[int, str], set[int]] = {}
    for node, rank, value in zip(*(long[c].to_pylist() for c in ("node", "rank", "value"))):
        by_id.setdefault((rank, value), set()).add(node)
    u, v = [], []
    for members in by_id.values():
        if len(members) <= cap:
            first = min(members)
            for m in members:
                u.append(m)
                v.append(first)
    return reference_components(u, v, nodes.num_rows)


def _partition(labels: list) -> set[frozenset[int]]:  # type: ignore[type-arg]
    groups: dict[object, set[int]] = {}
    for node, label in enumerate(labels):
        groups.setdefault(label, set()).add(node)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("kind", ["chain", "star", "hub", "random"])
def test_clusters_equal_reference_union_find(kind: str) -> None:
    rng = random.Random(5)
    ent = _entity(cap=10)
    tables = [_source_table(_graph(kind, rng)), _source_table(_graph(kind, rng)[::2])]
    nodes, long = _records(ent, tables)
    result = _cluster(ent, nodes, long)
    assert _partition(result["node_cluster"].to_pylist()) == _partition(_reference(nodes, long, cap=10))
    if kind == "hub":
        assert result["hubs"] == {1: 1}
        assert result["largest"] <= 4  # e0 in its few records of both sources, never all 12
    if kind == "chain":
        assert result["customers"] == 1


def test_vectorised_components_on_random_graphs() -> None:
    rng = random.Random(1)
    for _ in range(20):
        n = rng.randint(1, 400)
        u = [rng.randrange(n) for _ in range(rng.randint(0, 500))]
        v = [rng.randrange(n) for _ in range(len(u))]
        labels, _ = components(pa.array(u, pa.int64()), pa.array(v, pa.int64()), n)
        assert labels.to_pylist() == reference_components(u, v, n)


def test_ceiling_is_a_clear_error() -> None:
    ent = _entity(cap=100, ceiling=5)
    nodes, long = _records(ent, [_source_table(_graph("chain", random.Random(0)))])
    with pytest.raises(UserError, match=r"joined 40 records into one customer, over stitching.max_cluster_size \(5\)"):
        _cluster(ent, nodes, long)


@pytest.fixture(scope="module")
def stitched(tmp_path_factory):  # type: ignore[no-untyped-def]
    data = stitch_sources()
    ws = make_ws(tmp_path_factory.mktemp("stitch"), data, "sqlite", STITCH_YAML)
    plan = ws.plan("SELECT customer_id, email, phone, country, lifecycle_stage, _sources FROM customers")
    notes = list(ws.model.last_expansion_notes)
    con = duck(data)
    con.execute("CREATE SCHEMA _model")
    conn = ws.connector("_model")
    for t in conn.tables():
        con.register("x", conn.get_table(t.name))
        con.execute(f"CREATE TABLE _model.{t.name} AS SELECT * FROM x")
        con.unregister("x")
    yield ws, plan, notes, con
    ws.close()


def test_transitive_merge_and_survivorship(stitched) -> None:  # type: ignore[no-untyped-def]
    ws, plan, notes, con = stitched
    got = {r["email"]: r for r in rows(con, plan.sql)}
    # a@ (crm) -p1- a2@ (shop) -p2- b@ (crm): one customer; crm wins e-mail, its newest record (b@)
    assert got["b@x.com"]["_sources"] == "crm;shop"
    assert got["b@x.com"]["country"] == "FR"  # shop's newest record of the cluster
    assert "a@x.com" not in got and "a2@x.com" not in got
    # the hub phone links nobody: c/d/e/f stay apart; c@ merges with ' c@x.com' by e-mail
    assert {e for e in got if got[e]["phone"] == "HUB"} == {"c@x.com", "d@x.com", "e@x.com", "f@x.com"}
    assert got["c@x.com"]["country"] == "IT"
    # a CRM record without e-mail joins its shop twin through the phone
    assert got["g@x.com"]["lifecycle_stage"] == "lead"
    assert len(got) == 6
    assert any("excluded from stitching (phone: 1)" in n for n in notes)


def test_stable_id_matches_single_key_path(stitched) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    _, plan, _, con = stitched
    got = {r["email"]: r["customer_id"] for r in rows(con, plan.sql)}
    assert got["d@x.com"] == hashlib.md5(b"d@x.com").hexdigest()
    assert got["b@x.com"] == hashlib.md5(b"a2@x.com").hexdigest()  # smallest e-mail of the cluster


def test_why_merged_trace_is_queryable(stitched) -> None:  # type: ignore[no-untyped-def]
    ws, _, _, con = stitched
    plan = ws.plan("SELECT source, record, identifier, value, linked FROM customers__links "
                   "WHERE identifier = 'phone' AND NOT linked")
    got = rows(con, plan.sql)
    assert {r["value"] for r in got} == {"HUB"} and len(got) == 4


@pytest.mark.skipif(not executor_ready(), reason="Arrow executor not present yet")
def test_federated_stitched_answer(stitched) -> None:  # type: ignore[no-untyped-def]
    ws, plan, _, con = stitched
    sql = "SELECT customer_id, email, phone, country, lifecycle_stage, _sources FROM customers"
    assert canon(ws.query(sql).to_pylist()) == canon(rows(con, plan.sql))
    trace = ws.query("SELECT count(*) AS n FROM customers__links WHERE NOT linked").to_pylist()
    assert trace == [{"n": 4}]
    filtered = ws.query("SELECT email FROM customers WHERE country = 'IT'").to_pylist()
    assert filtered == [{"email": "c@x.com"}]
