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


def merge_explain(doc: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Put an engine's explain additions into the explain document (in place).

    Adds ``fragments[i].partitions`` ({count, method, column?, bounds?,
    per_partition_options?, reason?, requests: [[native request]] per slice}),
    ``engine`` ({kind, remote}) and ``spark`` ({sql}); the rest is unchanged."""
    if not extra:
        return doc
    parts = extra.get("partitions", {})
    for f in doc.get("fragments", []):
        if f["id"] in parts:
            f["partitions"] = parts[f["id"]]
    doc["engine"] = {"kind": extra.get("engine"), "remote": extra.get("remote")}
    doc["spark"] = {"sql": extra.get("sql")}
    return doc


def explain_text(doc: dict[str, Any]) -> str:
    """Lines to append to ``federation.explain.render_text(doc)`` for a non-local engine."""
    if "spark" not in doc:
        return ""
    lines = ["", f"Engine: spark at {doc['engine'].get('remote')}"]
    for f in doc["fragments"]:
        p = f.get("partitions")
        if not p:
            continue
        how = f"{p['count']} partition(s), {p['method']}"
        if p.get("column"):
            how += f" on {p['column']} at {p['bounds']}"
        if p.get("reason"):
            how += f" ({p['reason']})"
        lines.append(f"  {f['id']} ({f['source']}): {how}")
        if p.get("per_partition_options"):
            lines.append(f"    each partition: {p['per_partition_options']}")
    lines.append("Spark SQL:")
    lines.append(f"  {doc['spark']['sql']}")
    return "\n".join(lines)


def apply_engine_choice(ws: Any, engine: str | None, remote: str | None) -> None:
    """What the CLI's ``--engine``/``--remote`` do: every later query of ``ws`` runs there."""
    if engine is not None or remote is not None:
        ws.use_engine(engine, remote)
