"""The Python API: a loaded workspace you query, explain and inspect.

>>> from federation import Workspace
>>> ws = Workspace.load("configs")
>>> table = ws.query("SELECT country, count(*) FROM shop.customers GROUP BY 1")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from federation.catalog import Catalog
from federation.errors import CdpError, SourceError, UsageError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

    from connectors.base import Connector, TableInfo
    from federation.config.model import WorkspaceConfig
    from federation.engines import Engine
    from federation.plan import Plan


class Workspace:
    """Sources (and, later, the unified model) declared in one folder of YAML."""

    def __init__(self, config: WorkspaceConfig) -> None:
        self.config = config
        self.root = Path(config.root)
        self._connectors: dict[str, Connector] = {}
        self._extra: dict[str, Connector] = {}
        self._lock = threading.RLock()
        self.catalog = Catalog(self.connector, list(config.sources))
        self._model: Any = None
        self._model_loaded = False
        self._engine: Engine | None = None  # a remote engine's session, kept across queries
        self._engine_choice: tuple[str | None, str | None] = (None, None)
        # rows per key partition when a streamed answer is computed in partitions
        # (federation/partitioned.py); None: its TARGET_ROWS
        self.partition_rows: int | None = None

    # -- construction -------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Workspace:
        """Load the workspace at ``path`` (else $CDP_WORKSPACE, else ./configs)."""
        from federation.config.load import load_workspace, resolve_workspace_dir

        root = resolve_workspace_dir(path)
        return cls(load_workspace(root, env=env))

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            conns, self._connectors = list(self._connectors.values()), {}
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()
        for c in conns:
            try:
                c.close()
            except Exception:  # closing is best effort; the answer is already out
                pass

    # -- sources ------------------------------------------------------------------
    def source_names(self) -> list[str]:
        return list(self.config.sources)

    def _source(self, name: str):  # type: ignore[no-untyped-def]
        if name not in self.config.sources:
            raise UsageError(
                f"no source named '{name}'",
                hint=did_you_mean(name, self.source_names()) or f"Sources: {', '.join(self.source_names()) or '(none)'}.",
            )
        return self.config.sources[name]

    def add_connector(self, name: str, connector: Connector) -> None:
        """Register a connector that is not declared in YAML (e.g. the model's
        in-memory tables). Its tables become addressable as ``name.table``."""
        with self._lock:
            self._extra[name] = connector
            if name not in self.catalog.source_names:
                self.catalog.source_names.append(name)
            self.catalog.forget(name)

    @property
    def model(self) -> Any:
        """The unified customer model (models/), or None when no entities are declared."""
        with self._lock:
            if not self._model_loaded:
                self._model_loaded = True
                if self.config.sections.get("entities"):
                    from models import load_model

                    self._model = load_model(self)
            return self._model

    def connector(self, name: str) -> Connector:
        if name in self._extra:
            return self._extra[name]
        cfg = self._source(name)
        with self._lock:
            conn = self._connectors.get(name)
            if conn is None:
                from connectors.registry import create

                try:
                    conn = create(cfg, self.root)
                except CdpError:
                    raise
                except ImportError as e:
                    from connectors.registry import SOURCE_TYPES

                    hint = SOURCE_TYPES[cfg.type].install_hint
                    raise SourceError(name, f"its driver is not installed ({e.name or e})",
                                      hint=f"Install it: {hint}" if hint else None) from e
                self._connectors[name] = conn
            return conn

    def source_info(self, name: str) -> dict[str, Any]:
        cfg = self._source(name)
        return {"name": cfg.name, "type": cfg.type, "options": cfg.masked(), "location": str(cfg.location)}

    def check_source(self, name: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            self.connector(name).check()
            return {"name": name, "ok": True, "seconds": time.perf_counter() - t0, "error": None}
        except CdpError as e:
            return {"name": name, "ok": False, "seconds": time.perf_counter() - t0, "error": self.scrub(e.render())}

    def describe_source(self, name: str, table: str | None = None) -> list[TableInfo]:
        self._source(name)
        tables = self.catalog.tables(name)
        if table is None:
            return list(tables.values())
        return [self.catalog.table(name, table)]

    def scrub(self, text: str) -> str:
        """Remove every secret value of the workspace from ``text``."""
        for secret in sorted(self.config.secret_values(), key=len, reverse=True):
            if secret:
                text = text.replace(secret, "[secure]")
        return text

    # -- engines ------------------------------------------------------------------
    def use_engine(self, kind: str | None = None, remote: str | None = None) -> None:
        """Run every later query (segments and audiences too) on this engine:
        ``--engine``/``--remote``. None keeps the workspace's ``engine`` section."""
        with self._lock:
            old, self._engine = self._engine, None
            self._engine_choice = (kind, remote)
        if old is not None:
            old.close()

    def engine(self, kind: str | None = None, remote: str | None = None) -> Engine:
        """The engine for one query: arguments, else use_engine's, else the YAML's, else local."""
        from federation.engines import LocalEngine, engine_for, engine_settings

        if kind is None and remote is None:
            kind, remote = self._engine_choice
        settings = engine_settings(self.config, kind, remote)
        if settings["kind"] == "local":
            return LocalEngine()
        with self._lock:
            current = self._engine
            if current is None or current.name != settings["kind"] or getattr(current, "remote", None) != settings.get("remote"):
                if current is not None:
                    current.close()
                current = self._engine = engine_for(self.config, kind, remote)
            return current

    # -- queries ------------------------------------------------------------------
    def plan(self, sql: str, params: Mapping[str, Any] | None = None, dialect: str = "postgres",
             pushdown: bool = True) -> Plan:
        from federation.planner import plan_query

        model = self.model
        return plan_query(
            self.catalog, sql, params=params, dialect=dialect, pushdown=pushdown,
            expand=model.expand if model is not None else None,
            names=model.entity_names if model is not None else None,
        )

    def query(self, sql: str, params: Mapping[str, Any] | None = None, dialect: str = "postgres",
              pushdown: bool = True, engine: str | None = None, remote: str | None = None) -> pa.Table:
        """Run ``sql`` against the live sources; the whole answer as a pyarrow.Table.

        ``engine="spark"`` (with ``remote="sc://host:port"``) runs it on Spark Connect."""
        return self.engine(engine, remote).run(self.plan(sql, params, dialect, pushdown), self.catalog)

    def query_batches(self, sql: str, params: Mapping[str, Any] | None = None,
                      dialect: str = "postgres", engine: str | None = None,
                      remote: str | None = None) -> pa.RecordBatchReader:
        """Run ``sql``; the answer as a stream of record batches.

        Memory stays bounded where the plan allows: a row-wise pipeline streams its
        largest input (federation/stream.py); a plan whose operators pair rows by a
        key (merged profiles, joins and aggregates on one key) runs in key
        partitions spilled to disk (federation/partitioned.py); anything else is
        answered whole, then handed out in batches."""
        from federation.run import run_batches

        eng = self.engine(engine, remote)
        plan = self.plan(sql, params, dialect)
        if eng.name != "local":
            return eng.run(plan, self.catalog).to_reader()
        if plan.residual is not None:
            from federation.partitioned import partitioned
            from federation.run import run
            from federation.stream import stream

            reader = stream(self.catalog, plan) or partitioned(self.catalog, plan, rows_per_partition=self.partition_rows)
            return reader if reader is not None else run(self.catalog, plan).to_reader()
        return run_batches(self.catalog, plan)

    def explain(self, sql: str, params: Mapping[str, Any] | None = None, analyze: bool = False,
                dialect: str = "postgres", pushdown: bool = True, engine: str | None = None,
                remote: str | None = None) -> dict[str, Any]:
        """The plan as the documented JSON document; with ``analyze`` it also runs it.

        On Spark each fragment also shows its ``partitions`` and the document a
        ``spark.sql`` (the residual as Spark SQL); the native requests are the same."""
        from federation.engines import merge_explain
        from federation.explain import plan_json
        from federation.run import RunStats

        plan = self.plan(sql, params, dialect, pushdown)
        model = self.model
        notes = list(model.last_expansion_notes or []) if model is not None else []
        pruned = {k: list(v) for k, v in (model.last_pruned or {}).items() if v} if model is not None else {}
        eng = self.engine(engine, remote)
        stats = None
        if analyze:
            stats = RunStats()
            eng.run(plan, self.catalog, stats)
        doc = plan_json(plan, self.catalog, stats)
        if notes or pruned:
            doc["model"] = {"notes": notes, "pruned": pruned}
        return merge_explain(doc, eng.explain(plan, self.catalog))

    # -- segments and audiences (models/segments.py, models/audiences.py) ----------
    def segment(self, name: str) -> Any:
        """A named segment: ``.sql`` (compiled SQL), ``.run()``, ``.count()``."""
        from models.segments import get_segment

        return get_segment(self, name)

    def audience(self, name: str) -> Any:
        """A named audience for reverse-ETL: ``to_arrow()``, ``batches()``, ``diff(state)``."""
        from models.audiences import get_audience

        return get_audience(self, name)

