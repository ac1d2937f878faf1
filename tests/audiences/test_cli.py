"""`cdp segment ...` and `cdp audience ...` through typer (mounted on a test root app)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.segments import data
from tests.sync.cliapp import app

SEGMENTS = """
de: {from: shop.customers, description: Germans, where: [{country: DE}]}
buyers:
  from: shop.customers
  events: {from: shop.events, name: name}
  where: [{did: purchase, at_least: 3, within: 30d}]
"""
AUDIENCES = """
audiences:
  de_file:
    segment: de
    key: customer_id
    fields: [customer_id, email]
    consent: {field: consent, value: 1}
    destination: {type: csv, path: out/de.csv}
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = data.workspace(tmp_path_factory.mktemp("cli"), SEGMENTS)
    (r / "audiences.yaml").write_text(textwrap.dedent(AUDIENCES))
    return r


def cdp(root: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["--workspace", str(root), *args])
    return res.exit_code, res.stdout, res.stderr


DE = [c for c in data.customers() if c["country"] == "DE"]


def test_segment_list_show_run_count(root: Path) -> None:
    code, out, _ = cdp(root, "segment", "list")
    assert code == 0 and "de" in out and "Germans" in out and "segments.yaml:" in out
    code, out, _ = cdp(root, "segment", "list", "--format", "json")
    assert [r["name"] for r in json.loads(out)] == ["de", "buyers"]
    code, out, _ = cdp(root, "segment", "show", "buyers", "--as-of", "2026-06-30T12:00:00")
    assert code == 0 and "HAVING" in out and "Fragment" in out and "as of 2026-06-30T12:00:00+00:00" in out
    code, out, _ = cdp(root, "segment", "show", "buyers", "--as-of", "2026-06-30", "--format", "json")
    doc = json.loads(out)
    assert doc["key"] == "customer_id" and "GROUP BY" in doc["plan"]["fragments"][0]["request"]["sql"]
    code, out, _ = cdp(root, "segment", "run", "de", "--format", "csv")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("customer_id,email") and len(lines) == len(DE) + 1
    code, out, _ = cdp(root, "segment", "run", "de", "--format", "json")
    assert [r["customer_id"] for r in json.loads(out)] == [c["customer_id"] for c in DE]
    code, out, _ = cdp(root, "segment", "count", "de")
    assert (code, out.strip()) == (0, str(len(DE)))


def test_segment_errors_exit_codes(root: Path) -> None:
    code, _, err = cdp(root, "segment", "show", "dee")
    assert code == 2 and "no segment named 'dee'" in err and "Did you mean 'de'" in err
    code, _, err = cdp(root, "segment", "count", "de", "--as-of", "whenever")
    assert code == 2 and "--as-of: 'whenever' is not a date" in err
    code, _, err = cdp(root, "segment", "run", "de", "--format", "xml")
    assert code == 2 and "unknown --format 'xml'" in err


def test_audience_list_preview_export_sync(root: Path, tmp_path: Path) -> None:
    consenting = [c for c in DE if c["consent"] == 1]
    code, out, _ = cdp(root, "audience", "list", "--format", "json")
    assert json.loads(out) == [{"name": "de_file", "segment": "de", "destination": "csv", "mode": "incremental",
                                "description": ""}]
    code, out, _ = cdp(root, "audience", "preview", "de_file", "--format", "json", "--sample", "2")
    doc = json.loads(out)
    assert doc["excluded_without_consent"] == len(DE) - len(consenting) and len(doc["sample"]) == 2
    code, out, _ = cdp(root, "audience", "preview", "de_file")
    assert f"excluded without consent: {len(DE) - len(consenting)}" in out
    code, out, _ = cdp(root, "audience", "export", "de_file", "--format", "jsonl")
    assert [json.loads(x)["customer_id"] for x in out.splitlines()] == [c["customer_id"] for c in consenting]
    target = tmp_path / "x.parquet"
    code, out, _ = cdp(root, "audience", "export", "de_file", "--format", "parquet", "--output", str(target))
    import pyarrow.parquet as pq

    assert code == 0 and pq.read_table(target).num_rows == len(consenting)
    code, out, _ = cdp(root, "audience", "sync", "de_file", "--dry-run")
    assert code == 0 and f"{len(consenting)} added" in out and "dry run" in out and "sample to add" in out
    assert not (root / "out" / "de.csv").exists()
    code, out, err = cdp(root, "audience", "sync", "de_file", "--format", "json", "--quiet")
    doc = json.loads(out)
    assert code == 0 and doc["counts"]["delivered"] == len(consenting) and Path(doc["log"]).exists()
    assert err == ""  # no progress when not on a terminal
    code, out, _ = cdp(root, "audience", "sync", "de_file")
    assert code == 0 and f"0 added, 0 changed, 0 removed, {len(consenting)} unchanged" in out
    code, _, err = cdp(root, "audience", "sync", "de_file", "--mode", "sometimes")
    assert code == 2 and "unknown --mode 'sometimes'" in err
    code, _, err = cdp(root, "audience", "sync", "de_file", "--mode", "mirorr")
    assert code == 2 and "Did you mean 'mirror'" in err


def test_progress_on_a_terminal_only(root: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "tests.sync.cliapp", "--workspace", str(root), "audience", "sync", "de_file", "--dry-run"]
    repo = Path(__file__).parents[2]
    for quiet in (False, True):
        main, sub = pty.openpty()
        proc = subprocess.Popen(cmd + (["--quiet"] if quiet else []), stdout=subprocess.PIPE, stderr=sub, cwd=repo)
        os.close(sub)
        seen = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        out = proc.communicate(timeout=60)[0]
        os.close(main)
        assert proc.returncode == 0 and b"dry run" in out
        assert (b"rows read" in seen) is not quiet
