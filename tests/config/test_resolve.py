"""Where the workspace is: --workspace, else $CDP_WORKSPACE, else ./configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.config.load import resolve_workspace_dir
from federation.errors import UserError


@pytest.fixture
def dirs(tmp_path: Path) -> Path:
    for name in ("explicit", "from_env", "configs"):
        (tmp_path / name).mkdir()
    return tmp_path


def test_explicit_wins(dirs: Path) -> None:
    got = resolve_workspace_dir("explicit", env={"CDP_WORKSPACE": "from_env"}, cwd=dirs)
    assert got == dirs / "explicit"


def test_env_var_before_configs(dirs: Path) -> None:
    assert resolve_workspace_dir(None, env={"CDP_WORKSPACE": "from_env"}, cwd=dirs) == dirs / "from_env"
    assert resolve_workspace_dir(None, env={"CDP_WORKSPACE": str(dirs / "from_env")}, cwd=Path("/")) \
        == dirs / "from_env"


def test_configs_last(dirs: Path) -> None:
    assert resolve_workspace_dir(None, env={}, cwd=dirs) == dirs / "configs"
    assert resolve_workspace_dir("", env={"CDP_WORKSPACE": ""}, cwd=dirs) == dirs / "configs"


def test_defaults_read_process_env_and_cwd(dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(dirs)
    monkeypatch.setenv("CDP_WORKSPACE", "from_env")
    assert resolve_workspace_dir(None) == Path("from_env")
    monkeypatch.delenv("CDP_WORKSPACE")
    assert resolve_workspace_dir(None) == Path("configs")


def test_nothing_found_lists_every_place(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        resolve_workspace_dir(None, env={}, cwd=tmp_path)
    text = str(info.value)
    assert "no workspace folder found" in text
    assert "looked in: --workspace (not given); $CDP_WORKSPACE (not set); ./configs = configs (not found)" in text
    assert info.value.exit_code == 1


def test_missing_env_folder_is_not_silently_skipped(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    with pytest.raises(UserError, match=r"\$CDP_WORKSPACE = gone \(not found\)"):
        resolve_workspace_dir(None, env={"CDP_WORKSPACE": "gone"}, cwd=tmp_path)


def test_missing_explicit_folder(tmp_path: Path) -> None:
    (tmp_path / "file.yaml").write_text("sources: {}\n")
    with pytest.raises(UserError, match=r"looked in: --workspace = file.yaml \(not a folder\)"):
        resolve_workspace_dir("file.yaml", env={}, cwd=tmp_path)
