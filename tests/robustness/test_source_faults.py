"""A PostgreSQL connection dropped mid-stream and a Parquet file removed mid-scan:
the query fails naming the source (SourceError, ``cdp`` exit 3), never a partial
answer presented as complete.

Deterministic: PostgreSQL streams the rows of a view that sleeps inside the
server half-way (``pg_sleep`` at row 20 000); a second connection terminates the
backend while it sleeps. The Parquet scan is paused after its first batch (the
test reads the stream itself, or wraps the connector's reader) and a later file
is removed before it resumes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation import Workspace
from federation.errors import SourceError
from tests.robustness.conftest import cdp

ROWS = 40_000


def _sql(uri: str, *statements: str) -> list[tuple[Any, ...]]:
    import adbc_driver_postgresql.dbapi as pg

    out: list[tuple[Any, ...]] = []
    with pg.connect(uri, autocommit=True) as con, con.cursor() as cur:
        for s in statements:
            cur.execute(s)
            out = cur.fetchall() if cur.description else []
    return out


@pytest.fixture(scope="module")
def pg_ws(pg_uri: str, pg_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    s = pg_schema
    _sql(pg_uri,
         f'CREATE TABLE "{s}".big AS SELECT g AS id, repeat(md5(g::text), 4) AS pad FROM generate_series(1, {ROWS}) g',
         # the server sleeps half-way through the stream: the client has rows, the answer is not complete
         f'CREATE VIEW "{s}".stalls AS SELECT id, pad, CASE WHEN id = {ROWS // 2} THEN pg_sleep(30)::text END AS s '
         f'FROM "{s}".big')
    root = tmp_path_factory.mktemp("pgfault")
    (root / "sources.yaml").write_text(f"sources:\n  wh: {{type: postgresql, uri: '${{PGF_URI}}', db_schema: {s}}}\n")
    yield root, {"PGF_URI": pg_uri}


def _killer(uri: str, schema: str) -> tuple[threading.Thread, dict[str, int]]:
    """Terminate the backend sleeping in our view, once it is found (within 20 s)."""
    found: dict[str, int] = {}

    def run() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not found:
            rows = _sql(uri, "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                             f"AND query LIKE '%{schema}%stalls%' AND pid <> pg_backend_pid()")
            for (pid,) in rows:
                if _sql(uri, f"SELECT pg_terminate_backend({int(pid)})")[0][0]:
                    found["pid"] = int(pid)
            time.sleep(0.05)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, found


QUERY = "SELECT id, pad, s FROM wh.stalls"


def test_pg_connection_dropped_mid_stream_raises(pg_ws: tuple[Path, dict[str, str]], pg_uri: str,
                                                 pg_schema: str) -> None:
    root, env = pg_ws
    with Workspace.load(root, env=env) as ws:
        assert ws.query("SELECT count(*) AS n FROM wh.big").column(0)[0].as_py() == ROWS
        t, found = _killer(pg_uri, pg_schema)
        with pytest.raises(SourceError, match=r"^source 'wh': ") as info:
            ws.query(QUERY)
        t.join()
        assert found, "the backend was never terminated mid-stream"
        assert info.value.exit_code == 3
        # the workspace recovers: a broken connection is not reused
        assert ws.query("SELECT count(*) AS n FROM wh.big").column(0)[0].as_py() == ROWS


def test_pg_drop_while_streaming_batches_raises(pg_ws: tuple[Path, dict[str, str]], pg_uri: str,
                                                pg_schema: str) -> None:
    root, env = pg_ws
    with Workspace.load(root, env=env) as ws:
        t, found = _killer(pg_uri, pg_schema)
        seen = 0
        with pytest.raises(SourceError, match=r"^source 'wh': "):
            for batch in ws.query_batches(QUERY):
                seen += batch.num_rows
        t.join()
        assert found and seen < ROWS


def test_pg_drop_mid_stream_in_a_federated_join_raises(pg_ws: tuple[Path, dict[str, str]], pg_uri: str,
                                                       pg_schema: str, tmp_path: Path) -> None:
    root, env = pg_ws
    with Workspace.load(root, env=env) as ws:
        t, found = _killer(pg_uri, pg_schema)
        with pytest.raises(SourceError, match=r"^source 'wh': "):
            ws.query("SELECT s.id, count(*) AS n FROM wh.stalls s JOIN wh.big b ON b.id = s.id GROUP BY s.id")
        t.join()
        assert found


def test_cli_pg_drop_mid_stream_exits_3(pg_ws: tuple[Path, dict[str, str]], pg_uri: str, pg_schema: str) -> None:
    root, env = pg_ws
    t, found = _killer(pg_uri, pg_schema)
    r = cdp("query", "-w", str(root), "--format", "csv", QUERY, env=env)
    t.join()
    assert found and r.returncode == 3, r.stderr
    assert r.stderr.startswith("Error: source 'wh': ") and "Traceback" not in r.stderr
    assert r.stdout == ""
    assert pg_uri not in r.stderr


# -- files ------------------------------------------------------------------------------

FILES = 12
PER_FILE = 20_000


@pytest.fixture()
def files_ws(tmp_path: Path) -> tuple[Path, list[Path]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data" / "events"
    data.mkdir(parents=True)
    paths = []
    for i in range(FILES):
        ids = pa.array(range(i * PER_FILE, (i + 1) * PER_FILE), pa.int64())
        p = data / f"part-{i:02d}.parquet"
        pq.write_table(pa.table({"id": ids, "v": pa.compute.multiply(ids, 2)}), p, row_group_size=5_000)
        paths.append(p)
    (tmp_path / "sources.yaml").write_text("sources:\n  ev: {type: parquet, path: data/events, table: events}\n")
    return tmp_path, paths


def test_parquet_file_removed_while_streaming_is_an_error_or_complete(files_ws: tuple[Path, list[Path]]) -> None:
    # pyarrow may already hold the file open (read-ahead; an unlinked open file stays
    # readable on POSIX): then the answer is complete. Otherwise it must raise.
    root, paths = files_ws
    with Workspace.load(root) as ws:
        seen = 0
        try:
            for i, batch in enumerate(ws.query_batches("SELECT id, v FROM ev.events")):
                seen += batch.num_rows
                if i == 0:
                    paths[-1].unlink()  # the scan is paused here: its last file goes away
        except SourceError as e:
            assert e.message.startswith("source 'ev': ") and "part-11.parquet" in e.message
            assert seen < FILES * PER_FILE
        else:
            assert seen == FILES * PER_FILE, f"{seen} rows returned as if complete"


def _pause_and_remove(ws: Workspace, victim: Path) -> None:
    """Wrap the source's scan: after the first batch, remove ``victim``, then go on."""
    import pyarrow as pa

    conn = ws.connector("ev")
    original = conn.scan

    def scan(request: Any) -> Any:
        reader = original(request)

        def batches() -> Iterator[Any]:
            for i, b in enumerate(reader):
                yield b
                if i == 0 and victim.exists():
                    victim.unlink()

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    conn.scan = scan  # type: ignore[method-assign]


@pytest.mark.parametrize("sql", [
    "SELECT id, v FROM ev.events",
    "SELECT count(*) AS n, sum(v) AS s FROM ev.events",
    "SELECT id % 7 AS k, count(*) AS n FROM ev.events GROUP BY 1",
])
def test_parquet_file_removed_mid_scan_never_gives_fewer_rows(files_ws: tuple[Path, list[Path]], sql: str) -> None:
    root, paths = files_ws
    with Workspace.load(root) as ws:
        _pause_and_remove(ws, paths[-1])
        with pytest.raises(SourceError, match=r"^source 'ev': "):
            ws.query(sql)
