"""Placement with a real PostgreSQL source: a whole per-source subquery (normalised key,
de-duplication window, the user's filter on the surviving record) runs in PostgreSQL."""

from __future__ import annotations

import textwrap

import pytest

from federation import Workspace
from tests.models.data import ENTITIES_YAML, make_sources
from tests.models.helpers import TYPES, arrow_table, canon, duck, executor_ready, rows
from tests.models.sqlite_stub import write_sqlite

DATA = make_sources(60, seed=9)


@pytest.fixture(scope="module")
def ws(pg_uri, pg_schema, tmp_path_factory):  # type: ignore[no-untyped-def]
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(pg_uri) as con, con.cursor() as cur:
        cur.adbc_ingest("customers", arrow_table("customers", DATA["shop"]["customers"]), db_schema_name=pg_schema)
        con.commit()
    root = tmp_path_factory.mktemp("pg")
    write_sqlite(root / "crm.db", DATA["crm"], TYPES)
    ents = ENTITIES_YAML.split("orders:")[0]
    (root / "sources.yaml").write_text(textwrap.dedent(f"""\
        sources:
          crm: {{type: sqlite, path: crm.db}}
          shop: {{type: postgresql, uri: "${{SHOP_URI}}", db_schema: {pg_schema}}}
        """))
    (root / "model.yaml").write_text("entities:\n" + textwrap.indent(textwrap.dedent(ents).strip("\n"), "  ") + "\n")
    w = Workspace.load(root, env={"SHOP_URI": pg_uri})
    yield w
    w.close()


def _frag(doc: dict, source: str) -> str:  # type: ignore[type-arg]
    return " ".join(f["request"].get("sql", "") for f in doc["fragments"] if f["source"] == source)


def test_dedup_and_filter_run_inside_postgresql(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain("SELECT email, lifecycle_stage FROM customers WHERE country = 'FR'")
    shop = _frag(doc, "shop")
    assert "ROW_NUMBER() OVER" in shop and "'FR'" in shop and "LOWER(TRIM(" in shop
    assert "'FR'" not in _frag(doc, "crm")
    assert "entity customers: merge shop (base), crm (left)" in ws.model.last_expansion_notes


def test_postgres_only_fields_prune_the_crm(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain("SELECT country, count(*) AS n FROM customers WHERE lifetime_value >= 10 GROUP BY country")
    assert [f["source"] for f in doc["fragments"]] == ["shop"]
    assert doc["arrow"]["sql"] is None  # the whole query ran in PostgreSQL


@pytest.mark.skipif(not executor_ready(), reason="Arrow executor not present yet")
def test_answers_match_the_oracle(ws) -> None:  # type: ignore[no-untyped-def]
    con = duck(DATA)
    for sql in ("SELECT email, lifecycle_stage, country FROM customers WHERE country = 'FR'",
                "SELECT email, phone, phone__source, _sources FROM customers"):
        assert canon(ws.query(sql).to_pylist()) == canon(rows(con, ws.plan(sql).sql)), sql
