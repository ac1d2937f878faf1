"""File connector over real parquet, CSV and JSON-lines files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot

from connectors.base import ScanRequest
from connectors.files.dataset import FileConnector
from federation.config.model import SourceConfig
from federation.errors import Location, SourceError

N = 4000
UTC = dt.timezone.utc


def _table() -> pa.Table:
    return pa.table({
        "ID": pa.array(range(N), pa.int64()),
        "name": pa.array([None if i % 7 == 0 else f"{'Ab' if i % 2 else 'ab'}{i}" for i in range(N)]),
        "score": pa.array([None if i % 11 == 0 else i / 4 for i in range(N)]),
        "vip": pa.array([None if i % 13 == 0 else i % 3 == 0 for i in range(N)]),
        "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i % 60) for i in range(N)]),
        "ts": pa.array([dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(hours=i) for i in range(N)],
                       pa.timestamp("us", tz="UTC")),
        "nothing": pa.nulls(N, pa.null()),
        "region": pa.array(["eu" if i % 4 else "us" for i in range(N)]),
    })


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyarrow.dataset as ds

    r = tmp_path_factory.mktemp("files")
    t = _table()
    (r / "data").mkdir()
    pq.write_table(t, r / "data" / "People-2024.parquet", row_group_size=500)
    ds.write_dataset(t, r / "data" / "parts", format="parquet", partitioning=["region"], partitioning_flavor="hive")
    import pyarrow.csv as pacsv

    pacsv.write_csv(t.drop_columns(["nothing"]), r / "data" / "people.csv")
    with open(r / "data" / "people.jsonl", "w") as f:
        for row in t.drop_columns(["nothing", "ts", "day"]).to_pylist():
            f.write(json.dumps(row) + "\n")
    return r


def _conn(root: Path, type_: str = "parquet", **opts: object) -> FileConnector:
    return FileConnector(SourceConfig("files", type_, {"type": type_, **opts}, Location("sources.yaml", 4)), root)


def _scan(c: FileConnector, table: str, cols: tuple[str, ...], filters: list[str] = (), limit: int | None = None) -> pa.Table:  # type: ignore[assignment]
    req = ScanRequest(output_names=cols, table=table, columns=cols, limit=limit,
                      filters=tuple(sqlglot.parse_one(f, read="postgres") for f in filters))
    return c.scan(req).read_all()


def test_discovery_names_types_estimate(root: Path) -> None:
    c = _conn(root, path="data/People-2024.parquet")
    (t,) = c.tables()
    assert t.name == "people_2024"
    assert t.column("id").native_name == "ID"  # type: ignore[union-attr]
    assert t.column("nothing").type == pa.null()  # type: ignore[union-attr]
    assert t.row_estimate == N


def test_hive_partitions_become_columns(root: Path) -> None:
    c = _conn(root, path="data/parts", partitioning="hive", table="people")
    (t,) = c.tables()
    assert t.column("region") is not None
    got = _scan(c, "people", ("id", "region"), ["region = 'us'"])
    assert got.num_rows == N // 4 and set(got.column("region").to_pylist()) == {"us"}
    (nr,) = c.native_request(ScanRequest(output_names=("id",), table="people", columns=("id",),
                                         filters=(sqlglot.parse_one("region = 'us'"),)))
    assert nr.kind == "file" and nr.detail["files"] < nr.detail["files_total"]


def test_hive_partitions_through_a_glob(root: Path) -> None:
    c = _conn(root, path="data/parts/*/*.parquet", partitioning="hive", table="people")
    got = _scan(c, "people", ("id", "region"), ["region = 'eu'"])
    assert got.num_rows == N - N // 4 and set(got.column("region").to_pylist()) == {"eu"}


def test_row_group_pruning_is_visible(root: Path) -> None:
    c = _conn(root, path="data/People-2024.parquet")
    (nr,) = c.native_request(ScanRequest(output_names=("id",), table="people_2024", columns=("id",),
                                         filters=(sqlglot.parse_one("id < 100"),)))
    assert nr.detail["row_groups"] == 1
    assert "ID" in nr.detail["filter"] and nr.detail["columns"] == ["ID"]


PREDICATES = [
    "id = 7", "id <> 7", "id < 100", "id <= 100", "score > 600.5", "score >= 600", "NOT (score > 10)",
    "name = 'ab4'", "name IS NULL", "name IS NOT NULL", "id IN (1, 2, 3)", "NOT id IN (1, 2)",
    "id BETWEEN 10 AND 20", "NOT id BETWEEN 10 AND 3000", "name LIKE 'ab1%'", "name LIKE 'Ab_'", "name NOT LIKE 'ab1%'", "vip",
    "vip IS NOT TRUE", "vip IS FALSE", "NOT vip", "score > 100 OR id < 5", "id IS DISTINCT FROM 3",
    "day >= DATE '2024-02-01'", "day = '2024-01-05'", "ts < TIMESTAMP '2024-01-02 00:00:00+00'",
    "ts >= CAST('2024-03-01' AS TIMESTAMPTZ)", "100 > id", "id = 7.0", "NOT (name IN ('ab2', 'ab4'))",
    "id IN (" + ", ".join(str(i) for i in range(0, 200, 3)) + ")",
    "NOT id IN (" + ", ".join(str(i) for i in range(0, 200, 3)) + ")",
]


@pytest.mark.parametrize("pred", PREDICATES)
def test_exact_filters_really_filter(root: Path, pred: str) -> None:
    import duckdb

    c = _conn(root, path="data/People-2024.parquet", table="p")
    info = c.tables()[0]
    assert c.classify(sqlglot.parse_one(pred, read="postgres"), info) == "exact", pred
    got = sorted(_scan(c, "p", ("id",), [pred]).column("id").to_pylist())
    everything = _scan(c, "p", ("id", "name", "score", "vip", "day", "ts"))  # noqa: F841
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    want = sorted(r[0] for r in duck.sql(f"SELECT id FROM everything WHERE {pred}").fetchall())
    assert got == want


@pytest.mark.parametrize("pred", ["id > 2.5", "name ILIKE 'ab%'", "id IN (1, NULL)", "lower(name) = 'ab'",
                                  "name LIKE 'a!%' ESCAPE '!'", "id + 1 = 3", "name = 1"])
def test_untranslatable_is_unsupported(root: Path, pred: str) -> None:
    c = _conn(root, path="data/People-2024.parquet", table="p")
    assert c.classify(sqlglot.parse_one(pred, read="postgres"), c.tables()[0]) == "unsupported"


def test_limit_stops_reading_and_streams(root: Path) -> None:
    c = _conn(root, path="data/People-2024.parquet", table="p")
    assert _scan(c, "p", ("id",), limit=7).num_rows == 7
    assert _scan(c, "p", ("id",), ["id > 10"], limit=1001).num_rows == 1001
    reader = c.scan(ScanRequest(output_names=("x",), table="p", columns=("id",)))
    batches = list(reader)
    assert len(batches) > 1 and sum(b.num_rows for b in batches) == N
    assert reader.schema.names == ["x"]


@pytest.mark.parametrize("kind,path", [("csv", "data/people.csv"), ("jsonl", "data/people.jsonl")])
def test_csv_and_jsonl(root: Path, kind: str, path: str) -> None:
    c = _conn(root, kind, path=path)
    (t,) = c.tables()
    assert t.name == "people" and t.column("score").type == pa.float64()  # type: ignore[union-attr]
    got = _scan(c, "people", ("id", "name"), ["id < 10", "name LIKE 'Ab%'"])
    assert sorted(got.column("id").to_pylist()) == [1, 3, 5, 9]


def test_tables_mapping_and_glob(root: Path) -> None:
    c = _conn(root, "parquet", tables={"a": {"path": "data/People-*.parquet"},
                                       "b": {"path": "data/people.csv", "format": "csv"}})
    assert sorted(t.name for t in c.tables()) == ["a", "b"]
    assert _scan(c, "b", ("id",), limit=3).num_rows == 3


def test_missing_path_is_a_clear_error(root: Path) -> None:
    c = _conn(root, path="data/nope.parquet")
    with pytest.raises(SourceError, match="'data/nope.parquet' does not exist") as e:
        c.tables()
    assert "files" in str(e.value) and e.value.exit_code == 3
    with pytest.raises(SourceError, match="no file matches 'data/\\*.orc'"):
        _conn(root, path="data/*.orc").tables()


def test_key_filter_narrows_the_scan(root: Path) -> None:
    from connectors.base import KeyFilter

    c = _conn(root, path="data/People-2024.parquet", table="p")
    req = ScanRequest(output_names=("id",), table="p", columns=("id",), key_filter=KeyFilter("id", pa.array([3, 5, None], pa.int32())))
    assert sorted(c.scan(req).read_all().column("id").to_pylist()) == [3, 5]


def test_string_view_columns_read_and_filter_as_string(tmp_path: Path) -> None:
    t = pa.table({"s": pa.array(["a", "b", None, "b"], pa.string_view()), "x": [1, 2, 3, 4]})
    pq.write_table(t, tmp_path / "sv.parquet", row_group_size=2)
    c = _conn(tmp_path, path="sv.parquet")
    (info,) = c.tables()
    assert info.column("s").type == pa.string()  # type: ignore[union-attr]
    got = _scan(c, "sv", ("s", "x"), ["s = 'b'", "x > 1"])
    assert got.column("x").to_pylist() == [2, 4] and got.schema.field("s").type == pa.string()
    assert _scan(c, "sv", ("x",), ["s IN ('a', 'b')", "NOT s LIKE 'a%'"]).column("x").to_pylist() == [2, 4]
