"""Fixtures for the CLI tests: a built copy of the demo workspace and ways to run ``cdp``.

``cdp`` runs in-process through typer's CliRunner (fast) for most tests, and as a
real subprocess (``python -m cli.main``) where the process boundary matters:
start-up imports, binary stdout, tracebacks, exit codes seen by a shell.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def copy_demo_workspace(dest: Path) -> Path:
    """The demo workspace's YAML (not its data) in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for p in CONFIGS.glob("*.yaml"):
        shutil.copy(p, dest / p.name)
    if (CONFIGS / "extras").is_dir():
        shutil.copytree(CONFIGS / "extras", dest / "extras", dirs_exist_ok=True)
    return dest


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace with its data built once for the whole session."""
    from cli.demo_data import build

    root = copy_demo_workspace(tmp_path_factory.mktemp("demo") / "ws")
    build(root / "data")
    return root


def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """``cdp ARGS`` in-process."""
    from typer.testing import CliRunner

    from cli.main import app

    r = CliRunner(env=env).invoke(app, list(args), input=input, catch_exceptions=False)
    return Result(r.exit_code, r.stdout, r.stderr)


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        binary: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
    """``cdp ARGS`` as a subprocess (the installed entry point's module)."""
    full_env = dict(os.environ)
    full_env.pop("CDP_WORKSPACE", None)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, env=full_env,
                          cwd=cwd or REPO, timeout=timeout, text=not binary)
