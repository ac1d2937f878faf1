"""Mutated workspace YAML: load_workspace succeeds or raises ConfigError, nothing else."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation.config.load import load_workspace
from federation.config.model import WorkspaceConfig
from federation.errors import ConfigError
from tests.config.wsfiles import ENV, VALID

BASE = VALID + """\
  sf: {type: salesforce, base_url: "http://h", client_id: "${SF_ID:-x}", rate_limit: 2}
entities:
  customers:
    key: email
    merge:
      - {from: crm.contacts, fields: {email: lower(email)}}
segments:
  vip: {sql: "SELECT * FROM customers WHERE ltv > 100"}
engine: {max_parallel: 4}
"""
LINES = BASE.splitlines()
PIECES = ["${", "$${", "}", ":", ": ", "-", "{", "[", "]", "'", '"', "*a", "&a", "<<: *a", "\t", "#", "!x ",
          "type", "token", "sources", "\\", "---", "? ", "|", ">", "%YAML 1.1", "~", "\x00", "\x85", "é"]

line_edit = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, len(LINES) - 1)),
    st.tuples(st.just("duplicate"), st.integers(0, len(LINES) - 1)),
    st.tuples(st.just("swap"), st.integers(0, len(LINES) - 1), st.integers(0, len(LINES) - 1)),
    st.tuples(st.just("insert"), st.integers(0, 3000),
              st.one_of(st.sampled_from(PIECES), st.text(st.characters(exclude_categories=("Cs",)), max_size=4))),
    st.tuples(st.just("key"), st.integers(0, len(LINES) - 1),
              st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_-]{0,8}", fullmatch=True), st.sampled_from(["1", "x", "[]", "{}"])),
)


def mutate(lines: list[str], edits: list[tuple]) -> str:
    lines = list(lines)
    for edit in edits:
        if not lines:
            break
        kind, i = edit[0], edit[1] % len(lines)
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = edit[2] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "insert":
            text = "\n".join(lines)
            pos = edit[1] % (len(text) + 1)
            lines = (text[:pos] + edit[2] + text[pos:]).split("\n")
        else:
            indent = len(lines[i]) - len(lines[i].lstrip(" "))
            lines.insert(i, " " * indent + f"{edit[2]}: {edit[3]}")
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(line_edit, min_size=1, max_size=4), split=st.booleans())
def test_mutated_workspace_loads_or_raises_config_error(edits: list[tuple], split: bool) -> None:
    text = mutate(LINES, edits)
    root = Path(tempfile.mkdtemp()) / "configs"
    try:
        root.mkdir()
        files = {"a.yaml": text}
        if split:  # the same text twice, in a subfolder too: duplicates across files
            files["sources/b.yaml"] = text
        for name, body in files.items():
            (root / name).parent.mkdir(exist_ok=True)
            (root / name).write_text(body, encoding="utf-8")
        try:
            ws = load_workspace(root, env=ENV)
        except ConfigError as e:
            rendered = str(e)
            assert e.problems and rendered.startswith("the workspace has")
            for secret in ENV.values():
                assert secret not in rendered
        else:
            assert isinstance(ws, WorkspaceConfig)
            for secret in ENV.values():
                assert secret not in repr(ws)
    finally:
        shutil.rmtree(root.parent)


def test_unmutated_base_is_valid(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BASE, encoding="utf-8")
    ws = load_workspace(tmp_path, env=ENV)
    assert set(ws.sources) == {"shop", "warehouse", "events", "crm", "sf"}
