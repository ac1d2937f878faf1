"""Spark Connect sessions: connect, check versions, register the data source, translate errors.

Only the thin Spark Connect client is needed (``pip install 'fedcdp[spark]'``,
which brings ``pyspark-client``); full pyspark is only for local tests.
"""

from __future__ import annotations

import json
import re
from typing import Any

from federation.errors import CdpError, SourceError, UserError

ENGINE = "spark engine"
# Session settings every query relies on: PostgreSQL-like identifiers and UTC.
SESSION_CONF = {
    "spark.sql.caseSensitive": "true",
    "spark.sql.session.timeZone": "UTC",
}


def connect(remote: str | None) -> Any:
    """A new Spark Connect session at ``remote`` (``sc://host:port``), ready for fedcdp."""
    if not remote:
        raise UserError("the Spark engine needs a Spark Connect address",
                        hint='Pass --remote sc://host:port or set engine: {kind: spark, remote: "sc://host:port"}.')
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise UserError("the Spark engine needs the Spark Connect client",
                        hint="Install it: pip install 'fedcdp[spark]'") from e
    _reachable(remote)  # pyspark retries an unreachable server for minutes
    try:
        spark = SparkSession.builder.remote(remote).create()
        server = spark.version
    except Exception as e:  # noqa: BLE001 - grpc and pyspark raise many kinds
        raise SourceError(ENGINE, f"cannot reach Spark Connect at {remote}: {_first_line(e)}",
                          hint="Check the address and that the Spark Connect server is running.") from e
    check_versions(client_pyspark_version(), server)
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    from federation.engines.spark.datasource import FedcdpDataSource

    spark.dataSource.register(FedcdpDataSource)
    return spark


def _reachable(remote: str, timeout: float = 5.0) -> None:
    import socket
    from urllib.parse import urlparse

    url = urlparse(remote)
    if url.scheme != "sc" or not url.hostname:
        raise UserError(f"'{remote}' is not a Spark Connect address", hint="Write it as sc://host:port.")
    try:
        with socket.create_connection((url.hostname, url.port or 15002), timeout=timeout):
            pass
    except OSError as e:
        raise SourceError(ENGINE, f"cannot reach Spark Connect at {url.hostname}:{url.port or 15002}: {e.strerror or e}",
                          hint="Check the address and that the Spark Connect server is running.") from None


def client_pyspark_version() -> str:
    import pyspark

    return str(pyspark.__version__)


def check_versions(client: str, server: str) -> None:
    """Spark Connect needs the client's major.minor to match the server's."""
    if client.split(".")[:2] != server.split(".")[:2]:
        raise UserError(
            f"the Spark Connect client is {client} but the Spark server is {server}",
            hint=f"Install the matching client: pip install 'pyspark-client=={server}'")


def translate(e: Exception, scrub: Any = None) -> CdpError:
    """A pyspark/grpc error as one fedcdp error, without the Java stack."""
    from federation.engines.spark.datasource import MARKER

    text = str(e)
    if scrub is not None:
        text = scrub(text)
    m = re.search(re.escape(MARKER) + r"(\{.*?\}):END", text, re.S)
    if m:
        info = json.loads(m.group(1))
        if info["kind"] == "source":
            return SourceError(info["source"], info["message"], hint=info.get("hint"))
        return UserError(info["message"], hint=info.get("hint"))
    missing = re.search(r"No module named '(federation|connectors)[\w.]*'", text)
    if missing:
        return UserError("the Spark executors cannot import fedcdp",
                         hint="Install fedcdp (the same version) on the cluster's Python, or ship it as an artifact.")
    return SourceError(ENGINE, f"the query failed in Spark: {_first_line(text)}",
                       hint="Run with --verbose for Spark's own message.")


def _first_line(e: object) -> str:
    line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return line[:300]
