"""Spark fixtures: a loopback Spark Connect server over a local cluster with two
executor processes (``local-cluster[2,1,1024]``), started here and stopped by its
process id (its own process group: the driver JVM, the executor JVMs and their
Python workers).

The server's environment holds what executors resolve ``${VAR}`` from:
TEST_PG_URI and SPARK_TEST_TOKEN (the HubSpot emulator's token). Skipped when
pyspark or Java is missing; FEDCDP_SPARK_TESTS=0 skips the whole tier.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DEFAULT_PG_URI
from tests.crm.conftest import _fresh_rate_buckets, hubspot_factory  # noqa: F401 - shared fixtures

HUBSPOT_TOKEN = "spark-test-token-3f9a1c"


@dataclass(frozen=True)
class Server:
    remote: str  # sc://127.0.0.1:PORT
    log: Path  # the server's (driver's) log
    trace: Path  # FEDCDP_SPARK_TRACE folder of the executors


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _start(master: str, log: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "SPARK_HOME": str(_spark_home()), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1", **extra_env}
    cmd = [str(_spark_home() / "bin" / "spark-submit"), "--class",
           "org.apache.spark.sql.connect.service.SparkConnectServer", "--name", "fedcdp-tests",
           "--master", master, "--conf", f"spark.connect.grpc.binding.port={port}",
           "--conf", "spark.ui.enabled=false", "--conf", "spark.executor.memory=512m",
           "--conf", "spark.task.maxFailures=2", "--conf", "spark.python.worker.reuse=true",
           "--conf", "spark.sql.shuffle.partitions=4", "spark-internal"]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Spark Connect server exited: see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"sc://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    _stop(proc)
    raise RuntimeError(f"Spark Connect server did not listen within 120 s: see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (the id we started), then wait for it."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def spark_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    if os.environ.get("FEDCDP_SPARK_TESTS") == "0":
        pytest.skip("FEDCDP_SPARK_TESTS=0")
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed")
    log = tmp_path_factory.mktemp("spark") / "connect-server.log"
    try:  # executors resolve ${TEST_PG_URI} from this environment
        pg = request.getfixturevalue("pg_uri")
    except pytest.skip.Exception:
        pg = os.environ.get("CDP_TEST_POSTGRES_URI", DEFAULT_PG_URI)
    trace = tmp_path_factory.mktemp("trace")
    env = {"TEST_PG_URI": pg, "TPCH_PG": pg, "SPARK_TEST_TOKEN": HUBSPOT_TOKEN, "FEDCDP_SPARK_TRACE": str(trace)}
    proc, remote = _start("local-cluster[2,1,1024]", log, env)
    try:
        yield Server(remote, log, trace)
    finally:
        _stop(proc)
