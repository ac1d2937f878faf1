"""One generic Spark Python Data Source (``format("fedcdp")``) for every fragment.

The client decides everything (pushdown, partitions, schema); the data source
only replays it: ``partitions()`` returns one InputPartition per planned slice
and ``read()`` builds the source's connector on the executor and calls the same
``connector.scan(request)`` the local executor calls, yielding Arrow batches.

Options (strings, visible in Spark's plans, so they never hold a secret):
``fedcdp.version``, ``fedcdp.source`` (JSON: name, type, the YAML entry with its
``${VAR}`` references unresolved, workspace root, per-slice option overrides),
``fedcdp.requests`` and ``fedcdp.schema`` (base64 pickles of the ScanRequests and
the normalised Arrow schema). Executors resolve ``${VAR}`` from their own
environment. Spark's filter pushdown is not implemented on purpose: the planner
already put every filter in the requests.
"""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from collections.abc import Iterator
from typing import Any

from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

# Errors cross the JVM as text: the client finds this marker and rebuilds the error.
MARKER = "FEDCDP-ERROR:"
FORMAT = "fedcdp"


def client_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fedcdp")
    except PackageNotFoundError:  # running from a source tree without metadata
        return "unknown"


def pack(obj: Any) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(obj, protocol=4))).decode("ascii")


def unpack(text: str) -> Any:
    return pickle.loads(zlib.decompress(base64.b64decode(text)))


def error_text(kind: str, message: str, source: str | None = None, hint: str | None = None) -> str:
    return MARKER + json.dumps({"kind": kind, "source": source, "message": message, "hint": hint}) + ":END"


class _Failure(RuntimeError):
    pass


def _check_version(options: dict[str, str]) -> None:
    want, have = options.get("fedcdp.version"), client_version()
    if want != have:
        raise _Failure(error_text(
            "version", f"fedcdp on the Spark cluster is {have}, the client is {want}",
            hint=f"Install the same fedcdp on the cluster (pip install fedcdp=={want}) or the client."))


class FedcdpPartition(InputPartition):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class FedcdpReader(DataSourceReader):
    def __init__(self, options: dict[str, str]) -> None:
        self.options = options

    def partitions(self) -> list[FedcdpPartition]:
        _check_version(self.options)
        return [FedcdpPartition(i) for i in range(int(self.options["fedcdp.count"]))]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        _check_version(self.options)
        source = json.loads(self.options["fedcdp.source"])
        request = unpack(self.options["fedcdp.requests"])[partition.value]
        target = unpack(self.options["fedcdp.schema"])
        _trace(source["name"], partition.value)
        try:
            yield from _scan(source, request, target)
        except _Failure:
            raise
        except Exception as e:  # noqa: BLE001 - every failure becomes one readable line
            raise _Failure(_describe(source["name"], e)) from None


def _trace(source: str, index: int) -> None:
    """Diagnostics, off unless the executors' FEDCDP_SPARK_TRACE names a folder:
    one line per slice read (process id, source, slice), e.g. to see task spread."""
    import os

    folder = os.environ.get("FEDCDP_SPARK_TRACE")
    if folder:
        with open(os.path.join(folder, f"{os.getpid()}.log"), "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {source} {index}\n")


def _describe(name: str, e: Exception) -> str:
    from federation.errors import CdpError, SourceError, UserError

    if isinstance(e, SourceError):
        return error_text("source", e.message.split(": ", 1)[-1], name, e.hint)
    if isinstance(e, UserError):
        return error_text("user", e.message, name, e.hint)
    if isinstance(e, CdpError):
        return error_text("source", e.message, name, e.hint)
    return error_text("source", f"reading failed: {type(e).__name__}: {e}", name)


def _scan(source: dict[str, Any], request: Any, target: Any) -> Iterator[Any]:
    """Build the connector from the YAML entry (resolved here), scan, normalise."""
    from federation.engines.spark.types import normalise_batch
    from federation.plan import Fragment, Pushed
    from federation.run import FragmentStats, open_fragment

    conn = build_connector(source)
    try:
        frag = Fragment("slice", source["name"], source["type"], (request.table or "query",), request, Pushed())
        reader = open_fragment(_One(conn), frag, FragmentStats())  # type: ignore[arg-type]
        for batch in reader:
            if batch.num_rows:
                yield normalise_batch(batch, target)
    finally:
        conn.close()


class _One:
    """The one-connector catalog ``federation.run.open_fragment`` needs."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def connector(self, name: str) -> Any:
        return self.conn


def build_connector(source: dict[str, Any]) -> Any:
    """The source's connector, its ``${VAR}`` references resolved from this process's environment."""
    import os
    from pathlib import Path

    from connectors.registry import create
    from federation.config.validate import check_source
    from federation.errors import Location, SourceError

    entry = {**source["entry"], **source.get("overrides", {})}
    where = lambda path: Location("spark executor", key_path=path)  # noqa: E731
    check = check_source(source["name"], entry, os.environ, where, where)
    if check.config is None:
        problems = "; ".join(p.message for p in check.problems)
        raise SourceError(source["name"], f"cannot be configured on the Spark executor: {problems}",
                          hint="Set the same environment variables on the executors as on the client.")
    return create(check.config, Path(source["root"]))


class FedcdpDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return FORMAT

    def schema(self) -> Any:
        from federation.engines.spark.types import spark_schema

        return spark_schema(unpack(self.options["fedcdp.schema"]))

    def reader(self, schema: Any) -> DataSourceReader:
        return FedcdpReader(dict(self.options))
