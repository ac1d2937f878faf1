"""Exit codes and messages: 1 user error, 2 usage, 3 source failed; tracebacks only with --verbose."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import invoke, run


def test_bad_sql_is_1_with_a_caret(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", "SELECT id FROM shop.customers WHERE")
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: ")
    assert "^" in r.stderr and "line 1" in r.stderr
    assert "Traceback" not in r.output


def test_unknown_table_is_1_with_did_you_mean(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", "SELECT * FROM shop.custmers")
    assert r.exit_code == 1
    assert "shop.custmers" in r.stderr and "Did you mean 'shop.customers'?" in r.stderr


def test_unknown_column_is_1_with_did_you_mean(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "explain", "SELECT emial FROM shop.customers")
    assert r.exit_code == 1
    assert "Did you mean 'email'?" in r.stderr


def test_missing_param_is_1_naming_it(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", "SELECT * FROM shop.customers WHERE country = :country")
    assert r.exit_code == 1
    assert "country" in r.stderr and "--param" in r.stderr


def test_bad_yaml_is_1_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text("sources:\n  shop:\n    type: sqlite\n   path: [x\n")
    r = invoke("-w", str(tmp_path), "sources", "list")
    assert r.exit_code == 1
    assert "sources.yaml:4:" in r.stderr and "YAML syntax error" in r.stderr


def test_unknown_source_type_is_1_with_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text("sources:\n  shop: {type: sqlit, path: x.db}\n")
    r = invoke("-w", str(tmp_path), "sources", "list")
    assert r.exit_code == 1
    assert "sources.yaml:2:" in r.stderr and "Did you mean 'sqlite'?" in r.stderr


def test_missing_workspace_is_1_listing_where_it_looked(tmp_path: Path) -> None:
    r = invoke("-w", str(tmp_path / "nope"), "sources", "list")
    assert r.exit_code == 1
    assert "no workspace folder found" in r.stderr and "nope" in r.stderr


def test_usage_errors_are_2(demo_ws: Path) -> None:
    assert invoke("query", "--no-such-option").exit_code == 2
    assert invoke("no-such-command").exit_code == 2
    r = invoke("-w", str(demo_ws), "query", "SELECT 1", "--format", "xlsx")
    assert r.exit_code == 2 and "unknown --format 'xlsx'" in r.stderr
    r = invoke("-w", str(demo_ws), "query")
    assert r.exit_code == 2 and "no query given" in r.stderr
    r = invoke("-w", str(demo_ws), "query", "SELECT 1", "--param", "novalue")
    assert r.exit_code == 2 and "NAME=VALUE" in r.stderr
    r = invoke("-w", str(demo_ws), "query", "SELECT 1", "--dialect", "postgress")
    assert r.exit_code == 2 and "postgres" in r.stderr


def test_bad_format_suggests_the_closest(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "sources", "describe", "shop", "--format", "jsonx")
    assert r.exit_code == 2 and "Did you mean 'json'?" in r.stderr


def _pg_closed_port(tmp_path: Path) -> Path:
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  warehouse: {type: postgresql, uri: \"${WH_URI}\"}\n"
        "  shop: {type: sqlite, path: shop.db}\n")
    import sqlite3

    sqlite3.connect(tmp_path / "shop.db").executescript("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
    return tmp_path


def test_unreachable_source_is_3_naming_it(tmp_path: Path) -> None:
    ws = _pg_closed_port(tmp_path)
    env = {"WH_URI": "postgresql://postgres@127.0.0.1:1/test"}
    p = run("-w", str(ws), "query", "SELECT * FROM warehouse.customers", env=env)
    assert p.returncode == 3, p.stderr
    assert p.stderr.startswith("Error: source 'warehouse'")
    assert "Traceback" not in p.stderr


def test_sources_check_is_3_naming_the_failed_ones(tmp_path: Path) -> None:
    ws = _pg_closed_port(tmp_path)
    r = invoke("-w", str(ws), "sources", "check", env={"WH_URI": "postgresql://postgres@127.0.0.1:1/test"})
    assert r.exit_code == 3
    lines = r.stdout.splitlines()
    assert lines[0].startswith("warehouse") and "failed" in lines[0]
    assert any(line.startswith("shop") and " ok " in line for line in lines)
    assert "1 source failed: warehouse" in r.stderr


def test_traceback_only_with_verbose(tmp_path: Path) -> None:
    ws = _pg_closed_port(tmp_path)
    env = {"WH_URI": "postgresql://postgres@127.0.0.1:1/test"}
    quiet = run("-w", str(ws), "sources", "describe", "warehouse", env=env)
    loud = run("--verbose", "-w", str(ws), "sources", "describe", "warehouse", env=env)
    assert quiet.returncode == loud.returncode == 3
    assert "Traceback" not in quiet.stderr
    assert "Traceback (most recent call last)" in loud.stderr and "Error: source 'warehouse'" in loud.stderr


def test_workspace_and_verbose_also_after_the_command(demo_ws: Path) -> None:
    r = invoke("sources", "list", "--workspace", str(demo_ws), "--format", "json")
    assert r.exit_code == 0, r.output
    r = invoke("query", "SELECT * FROM shop.nope", "-w", str(demo_ws), "--verbose")
    assert r.exit_code == 1 and "Traceback" in r.stderr and "Did you mean" in r.stderr


def test_internal_error_is_1_with_a_hint(demo_ws: Path, monkeypatch) -> None:
    from cli import state

    def boom(self):  # an unexpected failure inside fedcdp, not a CdpError
        raise RuntimeError("boom")

    monkeypatch.setattr(state.State, "workspace", boom)
    r = invoke("-w", str(demo_ws), "query", "SELECT 1")
    assert r.exit_code == 1
    assert r.stderr == "internal error: RuntimeError: boom; rerun with --verbose for the traceback\n"
    r = invoke("-w", str(demo_ws), "--verbose", "query", "SELECT 1")
    assert r.exit_code == 1 and "Traceback" in r.stderr and "internal error: RuntimeError: boom" in r.stderr
