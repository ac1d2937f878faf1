"""The Arrow → Spark type matrix: each type arrives as its documented Spark type,
results come back with the local engine's Arrow schema, and unsupported types
fail naming the source, the column and the type."""

from __future__ import annotations

import datetime as dt
import re
import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from federation import Workspace
from federation.engines import engine_for
from federation.engines.spark.types import normalise_schema, normalise_type
from federation.errors import UserError

MATRIX = [  # Arrow type, normalised Arrow type
    (pa.int8(), pa.int8()), (pa.int16(), pa.int16()), (pa.int32(), pa.int32()), (pa.int64(), pa.int64()),
    (pa.uint8(), pa.int16()), (pa.uint16(), pa.int32()), (pa.uint32(), pa.int64()), (pa.uint64(), pa.decimal128(20, 0)),
    (pa.float16(), pa.float32()), (pa.float32(), pa.float32()), (pa.float64(), pa.float64()),
    (pa.decimal128(12, 3), pa.decimal128(12, 3)), (pa.decimal256(30, 2), pa.decimal128(30, 2)),
    (pa.string(), pa.string()), (pa.large_string(), pa.string()), (pa.string_view(), pa.string()),
    (pa.dictionary(pa.int32(), pa.string()), pa.string()),
    (pa.date32(), pa.date32()), (pa.date64(), pa.date32()),
    (pa.timestamp("s"), pa.timestamp("us")), (pa.timestamp("ns"), pa.timestamp("us")),
    (pa.timestamp("ms", tz="Europe/Berlin"), pa.timestamp("us", tz="UTC")),
    (pa.bool_(), pa.bool_()), (pa.binary(), pa.binary()), (pa.large_binary(), pa.binary()),
    (pa.binary_view(), pa.binary()), (pa.binary(4), pa.binary()),
    (pa.list_(pa.uint32()), pa.list_(pa.int64())), (pa.large_list(pa.string()), pa.list_(pa.string())),
    (pa.struct([("a", pa.int64()), ("b", pa.large_string())]), pa.struct([("a", pa.int64()), ("b", pa.string())])),
    (pa.null(), pa.string()),
]


@pytest.mark.parametrize(("arrow", "sent"), MATRIX, ids=[str(a) for a, _ in MATRIX])
def test_normalisation_matrix(arrow: pa.DataType, sent: pa.DataType) -> None:
    assert normalise_type(arrow) == sent


@pytest.mark.parametrize("bad", [pa.time64("us"), pa.duration("s"), pa.month_day_nano_interval(),
                                 pa.map_(pa.string(), pa.int64()), pa.decimal256(50, 2)])
def test_unsupported_types_name_source_column_and_type(bad: pa.DataType) -> None:
    with pytest.raises(UserError, match=re.escape(f"source 'files': column 'c' has Arrow type {bad},")) as e:
        normalise_schema(pa.schema([("ok", pa.int64()), ("c", bad)]), "files")
    assert e.value.exit_code == 1


def _table() -> pa.Table:
    ts = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    cols = {
        "i8": pa.array([1, None], pa.int8()), "i16": pa.array([2, -2], pa.int16()),
        "i32": pa.array([3, None], pa.int32()), "i64": pa.array([2**62, -1], pa.int64()),
        "u8": pa.array([255, 0], pa.uint8()), "u16": pa.array([65535, 1], pa.uint16()),
        "u32": pa.array([2**32 - 1, 2], pa.uint32()), "u64": pa.array([2**64 - 1, None], pa.uint64()),
        "f32": pa.array([1.5, None], pa.float32()), "f64": pa.array([2.25, -0.0], pa.float64()),
        "dec": pa.array([decimal.Decimal("123.456"), None], pa.decimal128(12, 3)),
        "s": pa.array(["a", None]), "ls": pa.array(["b", "c"], pa.large_string()),
        "dic": pa.array(["x", "y"]).dictionary_encode(),
        "d": pa.array([dt.date(2024, 1, 2), None], pa.date32()),
        "ts_s": pa.array([ts.replace(microsecond=0), None], pa.timestamp("s")),
        "ts_us": pa.array([ts, ts], pa.timestamp("us")),
        "tsz_ms": pa.array([ts.replace(microsecond=123000), None], pa.timestamp("ms", tz="UTC")),
        "b": pa.array([True, None]), "bin": pa.array([b"\x00\x01", None], pa.binary()),
        "lst": pa.array([[1, 2], None], pa.list_(pa.int64())),
        "st": pa.array([{"a": 1, "b": "q"}, None], pa.struct([("a", pa.int64()), ("b", pa.string())])),
    }
    return pa.table(cols)


SPARK_TYPES = {
    "i8": "tinyint", "i16": "smallint", "i32": "int", "i64": "bigint", "u8": "smallint", "u16": "int",
    "u32": "bigint", "u64": "decimal(20,0)", "f32": "float", "f64": "double", "dec": "decimal(12,3)",
    "s": "string", "ls": "string", "dic": "string", "d": "date", "ts_s": "timestamp_ntz",
    "ts_us": "timestamp_ntz", "tsz_ms": "timestamp", "b": "boolean", "bin": "binary",
    "lst": "array<bigint>", "st": "struct<a:bigint,b:string>",
}


@pytest.fixture(scope="module")
def typed(spark_server, tmp_path_factory):  # type: ignore[no-untyped-def]
    root: Path = tmp_path_factory.mktemp("types")
    pq.write_table(_table(), root / "all.parquet")
    pq.write_table(pa.table({"id": [1], "t": pa.array([dt.time(1, 2)], pa.time64("us"))}), root / "odd.parquet")
    (root / "sources.yaml").write_text(
        "sources:\n"
        "  ty: {type: parquet, path: all.parquet, table: t}\n"
        "  odd: {type: parquet, path: odd.parquet, table: t}\n")
    ws = Workspace.load(root, env={})
    engine = engine_for(ws.config, "spark", spark_server.remote)
    yield ws, engine
    engine.close()
    ws.close()


def test_every_type_arrives_as_documented_and_returns_as_local(typed) -> None:  # type: ignore[no-untyped-def]
    ws, engine = typed
    sql = "SELECT * FROM ty.t"
    plan = ws.plan(sql)
    (prep,) = engine.prepare(plan, ws.catalog)
    df = engine.spark.read.format("fedcdp").options(**engine.options(prep)).load()
    got_types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert got_types == SPARK_TYPES
    local = ws.query(sql)
    got = engine.run(plan, ws.catalog)
    assert [(f.name, str(f.type)) for f in got.schema] == [(f.name, str(f.type)) for f in local.schema]
    assert got.to_pylist() == local.to_pylist()


def test_unsupported_type_through_spark_is_a_clear_error(typed) -> None:  # type: ignore[no-untyped-def]
    ws, engine = typed
    with pytest.raises(UserError, match=r"source 'odd': column 't' has Arrow type time64\[us\]") as e:
        engine.run(ws.plan("SELECT id, t FROM odd.t"), ws.catalog)
    assert e.value.exit_code == 1
    assert engine.run(ws.plan("SELECT id FROM odd.t"), ws.catalog).column("id").to_pylist() == [1]
