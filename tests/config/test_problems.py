"""Every problem collected at once, each with file:line, in plain words."""

from __future__ import annotations

import pytest

from federation.config.load import load_workspace
from federation.errors import ConfigError
from tests.config.wsfiles import problems_of


def test_three_problems_in_two_files_in_one_error(write_ws) -> None:
    root = write_ws({
        "a.yaml": "sources:\n  shop: {type: sqllite, path: a.db}\n  pg: {type: postgresql, uri: '${PG_URI}'}\n",
        "b.yaml": "sorces:\n  x: {type: csv}\n",
    })
    err = problems_of(root)
    assert err.exit_code == 1
    assert len(err.problems) == 3
    text = str(err)
    assert text.startswith("the workspace has 3 problems:")
    assert "configs/a.yaml:2:16 (sources.shop.type): source 'shop' has unknown type 'sqllite'" in text
    assert "Did you mean 'sqlite'?" in text
    assert "configs/a.yaml:3:" in text and "PG_URI" in text
    assert "configs/b.yaml:1:1 (sorces): unknown section 'sorces'" in text
    assert "Did you mean 'sources'?" in text


@pytest.mark.parametrize(("source", "message", "hint"), [
    ("{type: postgres, uri: '${U}'}", "source 's' has unknown type 'postgres'", "Did you mean 'postgresql'?"),
    ("{type: oracle}", "source 's' has unknown type 'oracle'", "Types: bigquery, csv,"),
    ("{type: [sqlite]}", "the type of source 's' must be a name", "Types:"),
    ("{path: a.db}", "source 's' has no type", "Add type: one of"),
    ("{type: sqlite, pth: a.db}", "source 's' (sqlite) has no option 'pth'", "Did you mean 'path'?"),
    ("{type: sqlite, path: a.db, zzz: 1}", "source 's' (sqlite) has no option 'zzz'", "Options of sqlite: tables,"),
    ("{type: sqlite}", "source 's' (sqlite) needs option 'path'", "Add path: ..."),
    ("{type: hubspot, token: '${T}'}", "source 's' (hubspot) needs option 'base_url'", "API base URL"),
    ("{type: sqlite, path: a.db, batch_size: many}", "must be an integer, got text 'many'", None),
    ("{type: sqlite, path: a.db, batch_size: true}", "must be an integer, got true/false", None),
    ("{type: hubspot, base_url: h, timeout: [1]}", "'timeout' of source 's' must be a number, got a list", None),
    ("{type: postgresql, uri: '${U}', driver_options: [a]}", "must be a mapping, got a list", None),
    ("{type: sqlite, path: a.db, description: yes}", "'description' of source 's' must be text", None),
    ("{type: sqlite, path: }", "'path' of source 's' must be text, got nothing (null)", None),
    ("sqlite", "source 's' must be a mapping of options", "s: {type: sqlite, path: data/s.db}"),
])
def test_source_problems(write_ws, source: str, message: str, hint: str | None) -> None:
    root = write_ws({"s.yaml": f"sources:\n  s: {source}\n"})
    err = problems_of(root, env={"U": "postgresql://h", "T": "tok-value"})
    assert len(err.problems) == 1, str(err)
    assert message in err.problems[0].message
    if hint:
        assert hint in (err.problems[0].hint or "")


@pytest.mark.parametrize(("name", "suggested"), [("My-CRM", "my_crm"), ("2shop", "s_2shop"), ("Shop", "shop")])
def test_source_names_are_sql_identifiers(write_ws, name: str, suggested: str) -> None:
    root = write_ws({"s.yaml": f"sources:\n  {name}: {{type: sqlite, path: a.db}}\n"})
    err = problems_of(root)
    assert f"source name '{name}' is not a SQL identifier" in str(err)
    assert f"e.g. '{suggested}'" in str(err)


def test_literal_secret_rejected_without_printing_it(write_ws) -> None:
    root = write_ws({"s.yaml": """\
        sources:
          crm: {type: hubspot, base_url: "http://h", token: pat-literal-123}
          pg: {type: postgresql, uri: 12345678}
          sf: {type: salesforce, base_url: "http://h", client_secret: "$${NOT_A_REF}"}
        """})
    err = problems_of(root)
    text = str(err)
    assert "configs/s.yaml:2:" in text
    assert "secrets come only from the environment: write token: ${CRM_TOKEN}" in text
    assert "write uri: ${PG_URI}" in text and "write client_secret: ${SF_CLIENT_SECRET}" in text
    assert "pat-literal-123" not in text and "12345678" not in text and "NOT_A_REF" not in text


def test_secret_with_default_is_allowed(write_ws) -> None:
    root = write_ws({"s.yaml": "sources:\n  crm: {type: hubspot, base_url: h, token: '${TK:-dev-token}'}\n"})
    ws = load_workspace(root, env={})
    assert ws.sources["crm"].get("token") == "dev-token"
    assert "dev-token" in ws.sources["crm"].secret_values and "dev-token" not in repr(ws)


def test_duplicate_keys_in_one_mapping(write_ws) -> None:
    root = write_ws({"s.yaml": """\
        sources:
          shop:
            type: sqlite
            path: a.db
            path: b.db
        engine: {a: 1, a: 2}
        """})
    err = problems_of(root)
    assert len(err.problems) == 2
    assert "configs/s.yaml:5:5 (sources.shop.path): key 'path' appears twice in the same mapping " \
           "(first at line 4)" in str(err)
    assert "configs/s.yaml:6:16 (engine.a): key 'a' appears twice" in str(err)
    assert "YAML would silently keep only the last one" in str(err)


def test_duplicate_section_key_in_one_file(write_ws) -> None:
    root = write_ws({"s.yaml": "sources: {}\nsources:\n  a: {type: sqlite, path: x}\n"})
    assert "configs/s.yaml:2:1 (sources): key 'sources' appears twice" in str(problems_of(root))


@pytest.mark.parametrize(("text", "where", "reason"), [
    ("sources:\n  shop: {type: sqlite, path: a.db\n", "configs/s.yaml:3:1", "YAML syntax error: expected ',' or '}'"),
    ("sources:\n  shop:\n\ttype: sqlite\n", "configs/s.yaml:3:1", "found character '\\t' that cannot start any token"),
    ("sources:\n  shop: a: b\n", "configs/s.yaml:2:10", "mapping values are not allowed here"),
    ("sources:\n  shop: 'unclosed\n", "configs/s.yaml:3:1", "found unexpected end of stream"),
    ("a: \x01\n", "configs/s.yaml:1:4", "unacceptable character #x0001"),
    ("sources:\n  shop: *nope\n", "configs/s.yaml:2:9", "found undefined alias"),
])
def test_yaml_syntax_error_position(write_ws, text: str, where: str, reason: str) -> None:
    root = write_ws({"s.yaml": text, "t.yaml": "sources:\n  ok: {type: sqlit, path: x}\n"})
    err = problems_of(root)
    assert len(err.problems) == 2  # the other file is still checked
    first = str(err.problems[0])
    assert first.startswith(where), first
    assert reason in first
    assert "Did you mean 'sqlite'?" in str(err.problems[1])


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n- b\n", "a workspace file must be a mapping of sections"),
    ("sources: [a, b]\n", "section 'sources' must be a mapping of name -> definition"),
    ("sources:\n  ? [a]\n  : 1\n", "a mapping key must be plain text"),
    ("engine: {x: !custom 1}\n", "cannot read this value: could not determine a constructor for the tag '!custom'"),
    ("engine: {x: !!int abc}\n", "cannot read this value (ValueError)"),
    ("engine: &a {x: *a}\n", "this value contains itself (a recursive alias)"),
    ("engine: {x: <<}\n", None),
])
def test_odd_yaml(write_ws, text: str, message: str | None) -> None:
    root = write_ws({"s.yaml": text})
    if message is None:
        load_workspace(root, env={})
        return
    assert message in str(problems_of(root))


def test_alias_bomb_is_refused_quickly(write_ws) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]"
              for i in range(1, 9)]
    root = write_ws({"s.yaml": "settings:\n" + "\n".join("  " + line for line in lines) + "\n"})
    assert "expands to more than" in str(problems_of(root))


def test_missing_workspace_folder(tmp_path) -> None:
    with pytest.raises(ConfigError, match="the workspace folder does not exist"):
        load_workspace(tmp_path / "nope", env={})


def test_deep_nesting_is_a_problem_not_a_crash(write_ws) -> None:
    root = write_ws({"s.yaml": "settings:\n  x: " + "[" * 3000 + "]" * 3000 + "\n"})
    assert "the YAML is nested too deeply to read" in str(problems_of(root))
