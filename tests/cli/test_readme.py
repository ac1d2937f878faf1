"""The README cannot drift: its ``console`` examples run, and its sources table is complete.

Every line starting with ``$ cdp`` inside a fenced ```console block is run (in a
shell, with ``cdp`` on PATH) in a folder whose ``configs/`` is the built demo
workspace, and must exit 0. Failing examples belong in ```text blocks.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def console_commands() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", README, flags=re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ cdp")]


@pytest.fixture(scope="module")
def readme_dir(demo_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``configs/`` (the demo workspace, data built) and a ``cdp`` on PATH."""
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(demo_ws, root / "configs", symlinks=True)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "cdp"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cli.main "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return root


def test_readme_has_examples() -> None:
    cmds = console_commands()
    assert len(cmds) >= 10
    for needed in ("cdp query", "cdp explain", "cdp sources list", "cdp sources check", "cdp sources describe",
                   "cdp demo", "--param", "--format json", "--format csv", "--analyze"):
        assert any(needed in c for c in cmds), needed


@pytest.mark.parametrize("command", console_commands())
def test_readme_example_runs(command: str, readme_dir: Path) -> None:
    env = dict(os.environ)
    env.pop("CDP_WORKSPACE", None)
    env["PATH"] = f"{readme_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run(command, shell=True, cwd=readme_dir, env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    if "--output" in command:
        assert (readme_dir / command.split("--output ")[1].split()[0]).stat().st_size > 0
    else:
        assert p.stdout, "an example should print something"


def test_every_source_type_and_its_key_options_are_documented() -> None:
    # Tuning options (page sizes, limits) change often and `connectors/registry.py`
    # is their reference; every type, and every required or secret option, must be here.
    from connectors.registry import SOURCE_TYPES

    section = README.split("### Sources", 1)[1].split("## The `cdp` command", 1)[0]
    for name, spec in SOURCE_TYPES.items():
        assert f"`{name}`" in section, f"source type {name} is not in the README's sources table"
        for opt in spec.options:
            if opt.required or opt.secret:
                assert f"`{opt.name}`" in section, f"option {name}.{opt.name} is not in the README's sources table"


def test_every_command_is_documented() -> None:
    from cli.main import app

    import typer.main

    group = typer.main.get_command(app)
    for name in group.commands:  # type: ignore[attr-defined]
        assert f"cdp {name}" in README or f"  {name} " in README, name


def test_readme_python_example_runs(readme_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks
    monkeypatch.chdir(readme_dir)
    monkeypatch.delenv("CDP_WORKSPACE", raising=False)
    for code in blocks:
        namespace: dict[str, object] = {}
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
        assert namespace["table"].num_rows > 0  # type: ignore[attr-defined]
