"""Choosing the engine: the workspace's ``engine`` section, explicit arguments,
and (once federation/workspace.py has the integration) Workspace.query/explain."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from federation import Workspace
from federation.engines import LocalEngine, engine_for, engine_settings, explain_text
from federation.errors import UsageError, UserError


def _ws(root: Path, engine_yaml: str = "") -> Workspace:
    con = sqlite3.connect(root / "s.db")
    con.execute("CREATE TABLE t (id INTEGER, v TEXT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i % 3}") for i in range(40)])
    con.commit()
    con.close()
    (root / "sources.yaml").write_text("sources:\n  s: {type: sqlite, path: s.db, max_parallel_partitions: 2}\n" + engine_yaml)
    return Workspace.load(root, env={})


def test_engine_settings_precedence(tmp_path: Path) -> None:
    ws = _ws(tmp_path, "engine:\n  kind: spark\n  remote: sc://yaml:15002\n")
    assert engine_settings(ws.config) == {"kind": "spark", "remote": "sc://yaml:15002"}
    assert engine_settings(ws.config, remote="sc://cli:1") == {"kind": "spark", "remote": "sc://cli:1"}
    assert engine_settings(ws.config, kind="local") == {"kind": "local"}
    assert isinstance(engine_for(ws.config, kind="local"), LocalEngine)
    with pytest.raises(UsageError, match="unknown engine 'flink'"):
        engine_settings(ws.config, kind="flink")
    ws.close()


def test_default_is_local_and_spark_needs_an_address(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    assert engine_settings(ws.config) == {"kind": "local"}
    engine = engine_for(ws.config, kind="spark")
    with pytest.raises(UserError, match="the Spark engine needs a Spark Connect address"):
        engine.run(ws.plan("SELECT id FROM s.t"), ws.catalog)
    ws.close()


def test_unreachable_server_is_a_source_error(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    from federation.engines.spark.session import connect
    from federation.errors import SourceError

    with pytest.raises(SourceError, match=r"source 'spark engine': cannot reach Spark Connect at 127.0.0.1:9"):
        connect("sc://127.0.0.1:9")


def test_workspace_query_and_explain_on_spark(spark_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not hasattr(Workspace, "use_engine"):
        pytest.skip("federation/workspace.py does not have the engine integration yet")
    ws = _ws(tmp_path, f"engine: {{kind: spark, remote: '{spark_server.remote}'}}\n")
    try:
        sql = "SELECT v, count(*) AS n FROM s.t WHERE id > 3 GROUP BY v ORDER BY v"
        assert ws.engine().name == "spark"
        got = ws.query(sql)
        assert got == ws.query(sql, engine="local")
        doc = ws.explain("SELECT id, v FROM s.t WHERE id > 3", engine="spark")
        assert doc["fragments"][0]["partitions"]["count"] == 2
        assert doc["spark"]["sql"].startswith("SELECT")
        assert "Spark SQL:" in explain_text(doc)
        ws.use_engine("local")
        assert ws.engine().name == "local"
    finally:
        ws.close()
