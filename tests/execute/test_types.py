"""Input Arrow types the executor meets: all are normalised, join keys are coerced."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa

from tests.execute.harness import run_ours

UTC = dt.timezone.utc


def test_join_keys_of_different_types_match() -> None:
    tables = {
        "a": pa.table({"k": pa.array([1, 2, 3], pa.int32()), "s": pa.array(["x", "y", "z"]).cast(pa.string_view())}),
        "b": pa.table({"k": pa.array([1, 3, 3], pa.uint64()),
                       "s": pa.array(["x", "z", "q"], pa.large_string()).dictionary_encode()}),
    }
    got = run_ours("SELECT a.k, b.s FROM a JOIN b ON a.k = b.k ORDER BY a.k, b.s", tables).to_pydict()
    assert got == {"k": [1, 3, 3], "s": ["x", "q", "z"]}
    got = run_ours("SELECT a.k FROM a JOIN b ON a.s = b.s ORDER BY a.k", tables).to_pydict()
    assert got == {"k": [1, 3]}


def test_int_and_float_keys_join() -> None:
    tables = {"a": pa.table({"k": pa.array([1, 2], pa.int64())}), "b": pa.table({"k": pa.array([1.0, 2.5])})}
    assert run_ours("SELECT a.k FROM a JOIN b ON a.k = b.k", tables).to_pydict() == {"k": [1]}


def test_naive_and_zoned_timestamps_compare_as_utc() -> None:
    naive = dt.datetime(2024, 5, 1, 12)
    tables = {
        "a": pa.table({"t": pa.array([naive], pa.timestamp("ns"))}),
        "b": pa.table({"t": pa.array([naive.replace(tzinfo=UTC)], pa.timestamp("ms", tz="UTC"))}),
    }
    assert run_ours("SELECT count(*) AS n FROM a JOIN b ON a.t = b.t", tables).to_pydict() == {"n": [1]}
    assert run_ours("SELECT count(*) AS n FROM a, b WHERE a.t >= b.t", tables).to_pydict() == {"n": [1]}


def test_decimal_null_column_and_uint_inputs() -> None:
    tables = {"t": pa.table({
        "d": pa.array([decimal.Decimal("1.25"), None, decimal.Decimal("-2.50")], pa.decimal128(10, 2)),
        "n": pa.array([None, None, None], pa.null()),
        "u": pa.array([1, 2, 3], pa.uint8()),
    })}
    got = run_ours("SELECT sum(d) AS s, count(n) AS c, max(u) AS m, sum(u) AS su FROM t", tables)
    assert got.to_pydict() == {"s": [-1.25], "c": [0], "m": [3], "su": [6]}
    got = run_ours("SELECT coalesce(n, u) AS x, n IS NULL AS y FROM t", tables).to_pydict()
    assert got == {"x": [1, 2, 3], "y": [True, True, True]}


def test_string_view_filters_and_groups() -> None:
    tables = {"t": pa.table({"s": pa.array(["a", "b", "a", None]).cast(pa.string_view())})}
    got = run_ours("SELECT s, count(*) AS n FROM t WHERE s IS NOT NULL GROUP BY s ORDER BY s", tables)
    assert got.to_pydict() == {"s": ["a", "b"], "n": [2, 1]}
    assert got.schema.field("s").type == pa.string()


def test_mixed_case_source_columns_resolve() -> None:
    from sqlglot import parse_one

    from federation.execute import execute

    # the optimizer folds identifiers; the fragment's Arrow columns keep the source's case
    tables = {"Contacts": pa.table({"firstName": ["a", "b"], "Id": [1, 2]})}
    tree = parse_one('SELECT "c"."firstname" AS f, "c"."id" AS id FROM "contacts" AS "c" WHERE "c"."firstname" = \'b\'')
    assert execute(tree, tables).to_pydict() == {"f": ["b"], "id": [2]}
