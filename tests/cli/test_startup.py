"""`cdp --help` starts fast: no pyarrow, sqlglot, httpx, rich or workspace at import."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.cli.conftest import REPO

HEAVY = ("pyarrow", "sqlglot", "httpx", "rich", "federation.workspace", "adbc_driver_manager", "yaml")


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from cli.main import app\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        app(['--help'], prog_name='cdp')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "import json; print(json.dumps(sorted(sys.modules)))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr
    loaded = json.loads(p.stdout.strip().splitlines()[-1])
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY]
    assert heavy == []


def test_help_lists_the_commands() -> None:
    p = subprocess.run([sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True, cwd=REPO,
                       timeout=60)
    assert p.returncode == 0
    for cmd in ("query", "explain", "sources", "demo"):
        assert cmd in p.stdout
    assert "--workspace" in p.stdout and "--verbose" in p.stdout
