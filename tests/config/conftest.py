"""Fixtures for the workspace loader tests: a workspace folder written from text."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

WriteWs = Callable[..., Path]


@pytest.fixture
def write_ws(tmp_path: Path) -> WriteWs:
    """write_ws({"sources.yaml": "...", "segments/a.sql": "..."}) -> the workspace folder."""
    root = tmp_path / "configs"

    def write(files: dict[str, str]) -> Path:
        root.mkdir(exist_ok=True)
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return write

