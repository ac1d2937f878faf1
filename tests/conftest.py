"""Shared fixtures: a real PostgreSQL (``pg_uri``), a fresh schema per module
(``pg_schema``) and a helper that writes workspace YAML (``tmp_workspace``).

PostgreSQL, in order: ``$CDP_TEST_POSTGRES_URI``; else
``postgresql://postgres@127.0.0.1:5432/test`` when it answers; else a throwaway
cluster started with ``initdb``/``pg_ctl`` (as the ``postgres`` user when run as
root); else the tests that need it skip. With ``CDP_REQUIRE_POSTGRES=1`` an
unreachable PostgreSQL fails them instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

DEFAULT_PG_URI = "postgresql://postgres@127.0.0.1:5432/test"


def write_workspace(directory: Path, yaml_text: str, name: str = "sources.yaml") -> Path:
    """Write ``yaml_text`` (dedented) as ``directory/name``; returns the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(textwrap.dedent(yaml_text).lstrip("\n"))
    return directory


@pytest.fixture
def tmp_workspace(tmp_path: Path) -> Callable[..., Path]:
    """``tmp_workspace(yaml_text, name="sources.yaml")`` writes into a fresh tmp folder."""

    def make(yaml_text: str, name: str = "sources.yaml") -> Path:
        return write_workspace(tmp_path, yaml_text, name)

    return make


def _reachable(uri: str) -> bool:
    try:
        import adbc_driver_postgresql.dbapi as pg
    except ImportError:
        return False
    try:
        with pg.connect(uri) as con, con.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()
        return True
    except Exception:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_cluster() -> tuple[str, Callable[[], None]] | None:
    """initdb + pg_ctl a throwaway cluster on a free port; None when impossible."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        return None
    root = Path(tempfile.mkdtemp(prefix="cdp-pg-"))
    data, port = root / "data", _free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        if shutil.which("runuser") is None:
            return None
        shutil.chown(root, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    run = dict(check=True, capture_output=True, timeout=120)
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], **run)  # type: ignore[call-overload]
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", opts, "-w", "-l", str(root / "log"), "start"], **run)  # type: ignore[call-overload]
    except (subprocess.SubprocessError, OSError):
        shutil.rmtree(root, ignore_errors=True)
        return None
    uri = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def stop() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)

    return uri, stop


@pytest.fixture(scope="session")
def pg_uri() -> Iterator[str]:
    """A reachable PostgreSQL URI (see the module docstring for where it comes from)."""
    required = os.environ.get("CDP_REQUIRE_POSTGRES") == "1"
    env_uri = os.environ.get("CDP_TEST_POSTGRES_URI")
    candidates = [env_uri] if env_uri else [DEFAULT_PG_URI]
    for uri in candidates:
        if _reachable(uri):
            yield uri
            return
    started = None if env_uri else _start_cluster()
    if started is not None and _reachable(started[0]):
        try:
            yield started[0]
        finally:
            started[1]()
        return
    if started is not None:
        started[1]()
    where = "$CDP_TEST_POSTGRES_URI" if env_uri else DEFAULT_PG_URI
    why = f"{where} is unreachable" + ("" if env_uri else " and no throwaway cluster could be started (initdb/pg_ctl)")
    if required:
        pytest.fail(f"PostgreSQL is required (CDP_REQUIRE_POSTGRES=1) but {why}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {why}")


@pytest.fixture(scope="module")
def pg_schema(pg_uri: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, uniquely named schema for one test module, dropped afterwards."""
    import adbc_driver_postgresql.dbapi as pg

    mod = request.module.__name__.rsplit(".", 1)[-1].lower()
    name = f"t_{mod[:30]}_{uuid.uuid4().hex[:10]}"
    with pg.connect(pg_uri) as con, con.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{name}"')
        con.commit()
    try:
        yield name
    finally:
        with pg.connect(pg_uri) as con, con.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            con.commit()
