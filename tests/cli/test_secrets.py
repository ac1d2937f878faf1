"""A secret taken from the environment never appears in any output: list, describe, explain, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cli.conftest import invoke, run

TOKEN = "tok-Sup3rS3cret-9f8e7d"
PASSWORD = "pw-H1dden-4242"


def _ws(tmp_path: Path) -> Path:
    (tmp_path / "sources.yaml").write_text(
        "sources:\n"
        "  crm: {type: hubspot, base_url: \"http://127.0.0.1:1\", token: \"${CRM_TOKEN}\", retry_budget: 0.5,"
        " timeout: 1}\n"
        "  warehouse: {type: postgresql, uri: \"postgresql://postgres:${WH_PASSWORD}@127.0.0.1:1/test\"}\n"
        "  shop: {type: sqlite, path: shop.db}\n")
    sqlite3.connect(tmp_path / "shop.db").executescript("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
    return tmp_path


ENV = {"CRM_TOKEN": TOKEN, "WH_PASSWORD": PASSWORD}


def _clean(text: str) -> None:
    assert TOKEN not in text and PASSWORD not in text


def test_list_masks_secrets(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    for fmt in ("table", "json"):
        r = invoke("-w", str(ws), "sources", "list", "--format", fmt, env=ENV)
        assert r.exit_code == 0, r.output
        _clean(r.output)
        assert "[secure]" in r.stdout


def test_failures_never_print_secrets(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    for args in (("sources", "check"), ("sources", "describe", "crm"), ("sources", "describe", "warehouse"),
                 ("query", "SELECT * FROM crm.contacts"), ("explain", "SELECT * FROM warehouse.x"),
                 ("--verbose", "query", "SELECT * FROM warehouse.x")):
        p = run("-w", str(ws), *args, env=ENV)
        assert p.returncode in (1, 3), (args, p.stderr)
        _clean(p.stdout + p.stderr)


def test_explain_of_a_working_source_has_no_secret(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    for fmt in ("text", "json"):
        r = invoke("-w", str(ws), "explain", "SELECT x FROM shop.t WHERE x = 1", "--format", fmt, env=ENV)
        assert r.exit_code == 0, r.output
        _clean(r.output)


def test_scrub_removes_workspace_and_env_secrets(monkeypatch) -> None:
    from cli.errors import scrub

    monkeypatch.setenv("SOME_API_TOKEN", "abcdef123456")
    monkeypatch.setenv("PLAIN_URL", "http://127.0.0.1:8711")
    assert scrub("token abcdef123456 at http://127.0.0.1:8711") == "token [secure] at http://127.0.0.1:8711"
