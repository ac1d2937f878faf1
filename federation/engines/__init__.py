"""Executors for a Plan: the local Arrow engine (default) and Apache Spark.

The planner alone decides what each source does; an engine only runs a Plan:
it fetches the fragments (``connector.scan``) and evaluates the residual.

>>> engine = engine_for(ws.config, kind="spark", remote="sc://127.0.0.1:15002")
>>> table = engine.run(ws.plan(sql), ws.catalog)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from federation.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from federation.catalog import Catalog
    from federation.config.model import WorkspaceConfig
    from federation.plan import Plan
    from federation.run import RunStats

KINDS = ("local", "spark")


@runtime_checkable
class Engine(Protocol):
    name: str

    def run(self, plan: Plan, catalog: Catalog, stats: RunStats | None = None) -> pa.Table:
        """The answer of ``plan`` as one Arrow table (same schema on every engine)."""
        ...

    def explain(self, plan: Plan, catalog: Catalog) -> dict[str, Any]:
        """Engine-specific additions to the explain document (``{}`` for local)."""
        ...

    def close(self) -> None: ...


class LocalEngine:
    """The default: federation/run.py (threads fetch, pyarrow combines)."""

    name = "local"

    def run(self, plan: Plan, catalog: Catalog, stats: RunStats | None = None) -> pa.Table:
        from federation.run import run

        return run(catalog, plan, stats)

    def explain(self, plan: Plan, catalog: Catalog) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


def engine_settings(config: WorkspaceConfig, kind: str | None = None, remote: str | None = None) -> dict[str, Any]:
    """The engine to use: explicit arguments win over the workspace's ``engine`` section.

    The section reads ``engine: {kind: spark, remote: "sc://host:port"}``."""
    section: Mapping[str, Any] = config.sections.get("engine") or {}
    chosen = kind or section.get("kind") or "local"
    if chosen not in KINDS:
        raise UsageError(f"unknown engine '{chosen}'", hint=f"Engines: {', '.join(KINDS)}.")
    out = {k: v for k, v in section.items() if k != "kind"} if chosen == section.get("kind", chosen) else {}
    out["kind"] = chosen
    if remote:
        out["remote"] = remote
    return out


def engine_for(config: WorkspaceConfig, kind: str | None = None, remote: str | None = None) -> Engine:
    """Build the engine named by ``kind`` (else the workspace's ``engine`` section, else local)."""
    settings = engine_settings(config, kind, remote)
    if settings["kind"] == "local":
        return LocalEngine()
    from federation.engines.spark.engine import SparkEngine

    return SparkEngine(config, settings)
