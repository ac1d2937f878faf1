"""`cdp model validate` / `show`, and model errors at query time."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from federation import Workspace
from federation.errors import ConfigError, QueryError
from models.cli import model_app
from models.validate import validate_model
from tests.models.data import make_sources
from tests.models.workspace import build

BROKEN = """
customers:
  key: email
  merge:
    - from: crm.contacts
      fields: {email: "lower(trim(email))", phone: phne, score: "updatedat"}
      updated_at: updatedat
    - from: shop.customerz
      fields: {email: "lower(email)", phone: phone}
    - from: shop.customers
      fields: {email: "lower(email)", score: country, phone: phone}
      updated_at: country
    - from: nowhere.people
      fields: {email: email}
  survivorship: {phone: {rule: most_recent}}
  relations: {orders: {entity: orders, on: {email: customer_email}}}
orders:
  from: shop.orders
  fields: {order_id: id, customer_email: "lower(email)", amount: "(SELECT 1)"}
  relations: {customer: {entity: customers, on: {customer_email: country}}}
"""


@pytest.fixture(scope="module")
def good(tmp_path_factory):  # type: ignore[no-untyped-def]
    ws = Workspace.load(build(tmp_path_factory.mktemp("good"), make_sources(30)), env={})
    yield ws
    ws.close()


def _run(ws: Workspace, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(model_app, list(args), obj=lambda: ws)


def test_validate_ok_and_show(good) -> None:  # type: ignore[no-untyped-def]
    res = _run(good, "validate")
    assert res.exit_code == 0 and "model ok: 2 entities" in res.output
    doc = json.loads(_run(good, "show", "customers", "--format", "json").output)
    fields = {f["name"]: f for f in doc["fields"]}
    assert [s["source"] for s in fields["phone"]["sources"]] == ["crm", "shop"]
    assert fields["phone"]["survivorship"].startswith("most recent")
    assert fields["lifetime_value"]["type"] == "double precision"
    assert doc["location"].split(" ")[0].endswith("model.yaml:2:3")
    tree = _run(good, "show").output
    assert "orders ──customer──▶ customers" in tree and "lifecycle_stage" in tree


def test_show_unknown_entity_suggests(good) -> None:  # type: ignore[no-untyped-def]
    res = _run(good, "show", "customer")
    assert res.exit_code == 2
    assert "Error: no entity named 'customer'" in res.output and "Did you mean 'customers'?" in res.output


def test_every_problem_at_once_with_file_and_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.load(build(tmp_path, make_sources(10), BROKEN), env={})
    _, problems, _ = validate_model(ws)
    text = "\n".join(str(p) for p in problems)
    expect = [
        "column 'phne' does not exist in crm.contacts",
        "Did you mean 'phone'?",
        "table 'shop.customerz' does not exist",
        "unknown source 'nowhere'",
        "field 'score' of 'customers' has conflicting types (crm: bigint, shop.customers: text)",
        "'most_recent' for 'phone' needs updated_at on shop.customerz",
        "field 'amount' may not contain a subquery",
        "relation 'customer' of 'orders' joins on country, not on the key of 'customers'",
        "relation cycle: customers → orders → customers",
        "'orders' declares no key",
        "updated_at of 'customers' has conflicting types",
    ]
    for e in expect:
        assert e in text, e
    assert all("model.yaml:" in str(p.location) and p.location.line for p in problems), text
    assert "model.yaml:6:47 (entities.customers.merge[0].fields.phone)" in text
    res = CliRunner().invoke(model_app, ["validate"], obj=lambda: ws)
    assert res.exit_code == 1 and f"the workspace has {len(problems)} problems" in res.output
    assert "relation cycle: customers → orders → customers" in res.output


def test_unknown_field_names_the_entity_with_position(good) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError) as e:
        good.plan("SELECT emial FROM customers")
    text = e.value.render()
    assert "column 'emial' is not in entity 'customers'" in text and "Did you mean 'email'?" in text
    assert "line 1, col 8" in text
    with pytest.raises(QueryError, match="column 'contry' is not in entity 'customers'"):
        good.plan("SELECT c.contry FROM customers c JOIN orders o ON o.customer_email = c.email")


def test_unknown_entity_suggests(good) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError, match="Did you mean 'customers'"):
        good.plan("SELECT email FROM customer")


def test_show_stitched_entity(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.models.data import STITCH_YAML

    ws = Workspace.load(build(tmp_path, make_sources(10), STITCH_YAML), env={})
    doc = json.loads(_run(ws, "show", "customers", "--format", "json").output)
    assert doc["identity"] == ["email", "phone"]
    assert doc["stitching"] == {"max_records_per_identifier": 3, "max_cluster_size": 50}
    assert "customers__links" in [x["name"] for x in doc["lineage"]]
    assert "stitching: max 3 records per identifier" in _run(ws, "show").output
    with pytest.raises(QueryError, match="column 'valeu' is not in entity 'customers__links'"):
        ws.plan("SELECT valeu FROM customers__links")


def test_links_entity_only_for_stitched_models(good) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError, match="table 'customers__links' does not exist"):
        good.plan("SELECT * FROM customers__links")


def test_query_over_a_broken_model_points_at_the_yaml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.models.data import ENTITIES_YAML

    text = ENTITIES_YAML.replace("country: country", "country: contry")
    ws = Workspace.load(build(tmp_path, make_sources(10), text), env={})
    with pytest.raises(ConfigError) as e:
        ws.plan("SELECT country FROM customers")
    text = e.value.render()
    assert "column 'contry' does not exist in shop.customers (field 'country' of 'customers')" in text
    assert "model.yaml:" in text and "Did you mean 'country'?" in text


def test_relation_on_an_alternate_key_is_not_ambiguous(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.models.data import ENTITIES_YAML

    text = ENTITIES_YAML.replace("country: country,", "country: country, shop_id: id,")
    text = text.replace("  pii: [email, phone]", "  pii: [email, phone]\n  alternate_keys: [shop_id]")
    text = text.replace("on: {customer_email: email}", "on: {order_id: shop_id}")
    ws = Workspace.load(build(tmp_path, make_sources(10), text), env={})
    _, problems, _ = validate_model(ws)
    assert problems == []
    bad = text.replace("alternate_keys: [shop_id]", "alternate_keys: [shopid]")
    ws2 = Workspace.load(build(tmp_path / "bad", make_sources(10), bad), env={})
    text2 = "\n".join(str(p) for p in validate_model(ws2)[1])
    assert "alternate key 'shopid' is not a field of 'customers'" in text2 and "joins on shop_id, not on the key" in text2
