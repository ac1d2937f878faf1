"""A valid workspace round trip: sources, options, defaults, sections, locations."""

from __future__ import annotations

from pathlib import Path

from federation.config.load import load_workspace
from federation.errors import Location
from tests.config.wsfiles import ENV, VALID, problems_of


def test_valid_workspace_round_trip(write_ws) -> None:
    root = write_ws({"sources.yaml": VALID})
    ws = load_workspace(root, env=ENV)
    assert list(ws.sources) == ["shop", "warehouse", "events", "crm"]
    shop = ws.sources["shop"]
    assert shop.type == "sqlite"
    assert shop.options == {"path": "data/shop.db", "max_parallel_partitions": 1}
    wh = ws.sources["warehouse"]
    assert wh.get("uri") == ENV["WAREHOUSE_URI"]
    assert wh.get("tables") == ["customers", "orders"] and wh.get("db_schema") == "public"
    assert wh.secret_keys == frozenset({"uri"})
    crm = ws.sources["crm"]
    # unset with a default; defaults from the registry filled in (as floats)
    assert crm.get("base_url") == "http://127.0.0.1:8711"
    assert crm.get("timeout") == 30.0 and crm.get("retry_budget") == 60.0
    assert crm.get("token") == ENV["HUBSPOT_TOKEN"]
    assert crm.secret_keys == frozenset({"token"})
    assert "type" not in crm.options
    assert ws.root == root.resolve()
    assert ws.files == (root / "sources.yaml",)
    assert ws.sections["entities"] == {} and ws.sections["segments"] == {}


def test_locations_of_keys(write_ws) -> None:
    root = write_ws({"sources.yaml": VALID})
    ws = load_workspace(root, env=ENV)
    assert ws.locations["sources.crm.token"] == Location("configs/sources.yaml", 5, 80, "sources.crm.token")
    assert ws.locations["sources.shop"] == Location("configs/sources.yaml", 2, 3, "sources.shop")
    assert ws.locations["sources.warehouse.tables"].line == 3
    assert ws.sources["events"].location == Location("configs/sources.yaml", 4, 3, "sources.events")
    assert ws.value_locations["sources.warehouse.tables[1]"].line == 3
    assert ws.locations["sources.warehouse.tables[1]"] == Location("configs/sources.yaml", 3, 97,
                                                                    "sources.warehouse.tables[1]")


def test_relative_root_keeps_the_path_as_given(write_ws, monkeypatch) -> None:
    root = write_ws({"sources.yaml": "sources:\n  shop: {type: sqlite, path: a.db}\n"})
    monkeypatch.chdir(root.parent.parent)
    ws = load_workspace(Path(root.parent.name) / "configs", env={})
    assert ws.sources["shop"].location.file == f"{root.parent.name}/configs/sources.yaml"
    assert ws.root == root.resolve()


def test_empty_workspace_is_valid(write_ws) -> None:
    ws = load_workspace(write_ws({"empty.yaml": "# nothing yet\n"}), env={})
    assert ws.sources == {}


def test_sections_split_across_files_and_subfolders(write_ws) -> None:
    root = write_ws({
        "a.yaml": "sources:\n  shop: {type: sqlite, path: a.db}\nengine: {max_parallel: 4}\n",
        "b.yml": "sources:\n  files: {type: csv, path: data/x.csv, delimiter: ';'}\n",
        "sources/crm.yaml": "sources:\n  crm: {type: zoho, base_url: 'http://h', token: '${ZT}'}\n",
        "entities/customers.yaml": "entities:\n  customers:\n    key: email\n",
        "segments/vip.yaml": "segments:\n  vip:\n    sql: |\n      SELECT 1\n",
        "segments/marketing/churn.sql": "SELECT * FROM customers\n",
        "audiences/a.yaml": "audiences:\n  weekly: {segment: vip, fields: [email]}\n",
        "notes.txt": "ignored",
        "data/ignored.yaml": "not: [read",
    })
    ws = load_workspace(root, env={"ZT": "zoho-token"})
    assert list(ws.sources) == ["shop", "files", "crm"]
    assert ws.sources["files"].get("delimiter") == ";"
    assert ws.sections["engine"] == {"max_parallel": 4}
    assert ws.sections["entities"] == {"customers": {"key": "email"}}
    assert ws.sections["segments"]["vip"] == {"sql": "SELECT 1\n"}
    sql_file = root / "segments" / "marketing" / "churn.sql"
    assert ws.sections["segments"]["churn"] == {"sql_file": str(sql_file.resolve())}
    assert ws.locations["segments.churn"] == Location("configs/segments/marketing/churn.sql", 1, 1, "segments.churn")
    assert ws.locations["entities.customers.key"] == Location("configs/entities/customers.yaml", 3, 5,
                                                              "entities.customers.key")
    assert ws.value_locations["segments.vip.sql"].line == 3
    assert ws.sections["audiences"]["weekly"]["fields"] == ["email"]
    assert len(ws.files) == 7


def test_duplicate_source_across_files_names_both(write_ws) -> None:
    root = write_ws({
        "a.yaml": "sources:\n  shop: {type: sqlite, path: a.db}\n",
        "sources/more.yaml": "\nsources:\n  other: {type: sqlite, path: b.db}\n  shop: {type: sqlite, path: c.db}\n",
    })
    err = problems_of(root)
    assert len(err.problems) == 1
    text = str(err)
    assert "source 'shop' is defined twice: at configs/a.yaml:2 and configs/sources/more.yaml:4" in text


def test_sql_segment_clashing_with_yaml_segment(write_ws) -> None:
    root = write_ws({"segs.yaml": "segments:\n  vip: {sql: SELECT 1}\n", "segments/vip.sql": "SELECT 2\n"})
    err = problems_of(root)
    assert "segment 'vip' is defined twice: at configs/segs.yaml:2 and configs/segments/vip.sql:1" in str(err)


def test_yaml_merge_keys_and_anchors(write_ws) -> None:
    root = write_ws({"s.yaml": """\
        settings:
          base: &crm {base_url: "http://h", timeout: 5}
        sources:
          crm:
            <<: *crm
            type: pipedrive
            timeout: 7
        """})
    ws = load_workspace(root, env={})
    assert ws.sources["crm"].options["base_url"] == "http://h"
    assert ws.sources["crm"].options["timeout"] == 7.0


def test_yaml_on_key_stays_text(write_ws) -> None:
    root = write_ws({"s.yaml": "settings:\n  on: {x: yes}\n"})
    ws = load_workspace(root, env={})
    assert ws.sections["settings"] == {"on": {"x": True}}


def test_repr_of_workspace_hides_section_values(write_ws) -> None:
    root = write_ws({"s.yaml": VALID + "settings:\n  dsn: '${WAREHOUSE_URI}'\n"})
    ws = load_workspace(root, env=ENV)
    text = repr(ws) + str(ws)
    for secret in ENV.values():
        assert secret not in text
    assert "[secure]" in text and "settings=1" in text
