"""The Spark engine: the same Plan, read by Spark tasks and combined by Spark SQL.

Per query: every fragment is split into slices (connectors/partitions.py), read
through the ``fedcdp`` Python Data Source into a temp view made for this query
only; the residual runs as Spark SQL over those views; ``toArrow()`` brings the
answer back, cast to the schema the local engine would give. The views are
dropped in ``finally``; nothing else is created (no cache, table or file).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from federation.engines import merge_explain  # noqa: F401 - re-exported for callers of this module
from federation.errors import CdpError, UserError

if TYPE_CHECKING:
    import pyarrow as pa

    from connectors.partitions import Partitioning
    from federation.catalog import Catalog
    from federation.config.model import WorkspaceConfig
    from federation.plan import Fragment, Plan
    from federation.run import RunStats


@dataclass(frozen=True)
class Prepared:
    fragment: Fragment
    partitioning: Partitioning
    schema: pa.Schema  # the fragment's Arrow schema as the local engine reads it
    normalised: pa.Schema  # what Spark receives (types.py)


class SparkEngine:
    name = "spark"

    def __init__(self, config: WorkspaceConfig, settings: dict[str, Any]) -> None:
        self.config = config
        self.remote: str | None = settings.get("remote")
        self.version: str | None = None  # the fedcdp version sent to executors (tests override it)
        self._spark: Any = None
        self._lock = threading.Lock()
        self._entries: dict[str, Any] | None = None

    # -- session ----------------------------------------------------------------------
    @property
    def spark(self) -> Any:
        with self._lock:
            if self._spark is None:
                from federation.engines.spark.session import connect

                self._spark = connect(self.remote)
            return self._spark

    def close(self) -> None:
        with self._lock:
            spark, self._spark = self._spark, None
        if spark is not None:
            try:
                spark.stop()
            except Exception:  # noqa: BLE001 - the answer is already out
                pass

    # -- planning ---------------------------------------------------------------------
    def prepare(self, plan: Plan, catalog: Catalog) -> list[Prepared]:
        from connectors.partitions import plan_partitions
        from federation.engines.spark.types import normalise_schema

        out = []
        for frag in plan.fragments:
            self._declared(frag.source)
            conn = catalog.connector(frag.source)
            options = self.config.sources[frag.source].options
            parts = plan_partitions(conn, frag.source_type, frag.request, options)
            schema = _fragment_schema(catalog, frag)
            out.append(Prepared(frag, parts, schema, normalise_schema(schema, frag.source)))
        return out

    def _declared(self, source: str) -> None:
        if source not in self.config.sources:
            raise UserError(f"source '{source}' is not declared in the workspace YAML, so Spark executors cannot build it",
                            hint="Run this query with --engine local.")

    def _entry(self, source: str) -> dict[str, Any]:
        if self._entries is None:
            self._entries = raw_source_entries(self.config.root)
        return dict(self._entries[source])

    def source_option(self, prep: Prepared) -> str:
        """The ``fedcdp.source`` option: the YAML entry with ``${VAR}`` left unresolved."""
        name = prep.fragment.source
        doc = {"name": name, "type": prep.fragment.source_type, "entry": self._entry(name),
               "root": str(self.config.root), "overrides": dict(prep.partitioning.option_overrides)}
        text = json.dumps(doc, default=str)
        # ${VAR:-default} references travel as written (their defaults are not secrets from
        # the environment); anything else that equals a secret value must not travel
        literal = re.sub(r"\$\{[^}]*\}", "", text)
        for secret in self.config.secret_values():
            if secret and len(secret) >= 4 and secret in literal:
                raise UserError(f"source '{name}' has a secret written in its YAML, which would travel to Spark",
                                hint="Write it as ${VAR} and set VAR on the client and on the executors.")
        return text

    def options(self, prep: Prepared) -> dict[str, str]:
        from federation.engines.spark.datasource import client_version, pack

        return {
            "fedcdp.version": self.version or client_version(),
            "fedcdp.source": self.source_option(prep),
            "fedcdp.requests": pack(list(prep.partitioning.requests)),
            "fedcdp.count": str(len(prep.partitioning.requests)),
            "fedcdp.schema": pack(prep.normalised),
        }

    # -- running ----------------------------------------------------------------------
    def run(self, plan: Plan, catalog: Catalog, stats: RunStats | None = None) -> pa.Table:
        from federation.engines.spark.datasource import FORMAT
        from federation.engines.spark.render import spark_sql, view_names
        from federation.engines.spark.session import translate
        from federation.engines.spark.types import conform

        t0 = time.perf_counter()
        prepared = self.prepare(plan, catalog)
        want = local_schema(plan, prepared)
        spark = self.spark
        views = view_names(plan)
        made: list[str] = []
        try:
            for prep in prepared:
                df = spark.read.format(FORMAT).options(**self.options(prep)).load()
                df.createOrReplaceTempView(views[prep.fragment.id])
                made.append(views[prep.fragment.id])
            table = spark.sql(spark_sql(plan, views)).toArrow()
        except CdpError:
            raise
        except Exception as e:  # noqa: BLE001 - pyspark/grpc errors become one fedcdp error
            # chained: `--verbose` prints the traceback, Spark's own message and stack with it
            raise translate(e, self._scrub) from e
        finally:
            for view in made:
                try:
                    spark.catalog.dropTempView(view)
                except Exception:  # noqa: BLE001 - a dead session has no views left anyway
                    pass
        table = conform(table, want)
        if stats is not None:
            stats.seconds = time.perf_counter() - t0
            stats.rows = table.num_rows
        return table

    def _scrub(self, text: str) -> str:
        for secret in sorted(self.config.secret_values(), key=len, reverse=True):
            if secret:
                text = text.replace(secret, "[secure]")
        return text

    def explain(self, plan: Plan, catalog: Catalog) -> dict[str, Any]:
        """Partitions per fragment (with each slice's native request) and the Spark SQL."""
        from federation.engines.spark.render import spark_sql

        prepared = self.prepare(plan, catalog)
        frags = {}
        for prep in prepared:
            conn = catalog.connector(prep.fragment.source)
            entry = prep.partitioning.to_json()
            entry["requests"] = [[r.to_json() for r in conn.native_request(req)] for req in prep.partitioning.requests]
            frags[prep.fragment.id] = entry
        views = {f.id: f"fedcdp_<query>_{f.id.lstrip('_')}" for f in plan.fragments}
        return {"engine": "spark", "remote": self.remote, "partitions": frags, "sql": spark_sql(plan, views)}


def _fragment_schema(catalog: Catalog, frag: Fragment) -> pa.Schema:
    """The fragment's Arrow schema, read from the source without rows (LIMIT 0)."""
    from federation.run import FragmentStats, open_fragment

    from sqlglot import exp

    request = replace(frag.request, limit=0, key_filter=None)
    if request.query is not None:  # whole queries carry their own LIMIT
        query = request.query.copy()
        query.set("limit", exp.Limit(expression=exp.Literal.number(0)))
        request = replace(request, query=query)
    probe = replace(frag, request=request)
    reader = open_fragment(catalog, probe, FragmentStats())
    try:
        return reader.schema
    finally:
        reader.close()


def local_schema(plan: Plan, prepared: list[Prepared]) -> pa.Schema | None:
    """The schema the local engine gives: its residual run over empty inputs."""
    if plan.residual is None:
        return prepared[0].schema
    from federation.execute import execute

    try:
        return execute(plan.residual, {p.fragment.id: p.schema.empty_table() for p in prepared}).schema
    except Exception:  # noqa: BLE001 - then Spark's own types stand
        return None


def raw_source_entries(root: Any) -> dict[str, Any]:
    """Each source's YAML entry as written (``${VAR}`` unresolved), for the executors."""
    from pathlib import Path

    from federation.config.load import _Merged, _read, workspace_files

    merged = _Merged()
    yamls, _sqls = workspace_files(Path(root))
    for path in yamls:
        _read(Path(root), path, merged)
    return dict(merged.entries["sources"])
