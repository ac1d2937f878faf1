"""Arrow → Spark types: one declared normalisation, applied on the executors.

Every fragment's Arrow schema is normalised before Spark sees it; the table is
also the documentation (README, "Spark engine types"):

=========================================  =====================  ======================================
Arrow type                                 Spark type             normalisation
=========================================  =====================  ======================================
int8 / int16 / int32 / int64               Byte/Short/Int/Long    none
uint8 / uint16 / uint32                    Short/Int/Long         widened to the next signed int
uint64                                     Decimal(20, 0)         exact (no signed 64-bit holds it)
float16 / float32 / float64                Float/Float/Double     float16 widened to float32
decimal128(p, s), decimal256(p<=38, s)     Decimal(p, s)          decimal256 narrowed to decimal128
string / large_string / string_view        String                 cast to string
dictionary<_, T>                           as T                   decoded
date32 / date64                            Date                   date64 cast to date32
timestamp(any unit, zone)                  Timestamp              microseconds, UTC (ns truncated)
timestamp(any unit, no zone)               TimestampNTZ           microseconds (ns truncated)
bool                                       Boolean                none
binary / large_binary / binary_view /      Binary                 cast to binary
fixed_size_binary
list / large_list / fixed_size_list<T>     Array<T'>              cast to list<T'>
struct<...>                                Struct<...>            each field normalised
null                                       String                 all NULL
=========================================  =====================  ======================================

Anything else (time of day, durations, intervals, maps, unions, decimals wider
than 38 digits) is refused with a UserError naming the source, column and type.
Results come back from Spark and are cast to the local engine's Arrow schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from federation.errors import UserError

if TYPE_CHECKING:
    import pyarrow as pa


class UnsupportedType(Exception):
    def __init__(self, type_: object) -> None:
        super().__init__(str(type_))
        self.type = type_


def normalise_type(t: pa.DataType) -> pa.DataType:
    """The Arrow type a column of type ``t`` is sent to Spark as."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return normalise_type(t.value_type)
    simple = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(),
              pa.uint64(): pa.decimal128(20, 0), pa.float16(): pa.float32(), pa.date64(): pa.date32(),
              pa.large_string(): pa.string(), pa.large_binary(): pa.binary(), pa.null(): pa.string()}
    if t in simple:
        return simple[t]
    if (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or t == pa.string()
            or t == pa.binary() or t == pa.date32()):
        return t
    if pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_binary_view(t) or pa.types.is_fixed_size_binary(t):
        return pa.binary()
    if pa.types.is_decimal(t):
        if t.precision > 38:
            raise UnsupportedType(t)
        return pa.decimal128(t.precision, t.scale)
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC" if t.tz else None)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return pa.list_(normalise_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, normalise_type(f.type)) for f in t])
    raise UnsupportedType(t)


def normalise_schema(schema: pa.Schema, source: str) -> pa.Schema:
    """The normalised schema of one fragment; refuses unsupported columns by name."""
    import pyarrow as pa

    fields = []
    for f in schema:
        try:
            fields.append(pa.field(f.name, normalise_type(f.type)))
        except UnsupportedType as e:
            raise UserError(
                f"source '{source}': column '{f.name}' has Arrow type {e.type}, which the Spark engine cannot carry",
                hint="Cast it in the query (e.g. CAST(col AS TEXT)) or run this query with --engine local.",
            ) from None
    return pa.schema(fields)


def normalise_batch(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """Cast one batch to the normalised schema (runs on the executors)."""
    import pyarrow as pa

    cols = []
    for col, f in zip(batch.columns, target):
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if col.type != f.type:
            # safe=False: timestamps are truncated to microseconds, as declared
            col = col.cast(f.type, safe=not pa.types.is_timestamp(f.type))
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=target)


def spark_schema(schema: pa.Schema) -> object:
    """The pyspark StructType of a normalised Arrow schema."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def conform(table: pa.Table, want: pa.Schema | None) -> pa.Table:
    """Spark's answer cast back to the local engine's schema (names and types)."""
    if want is None or len(want) != table.num_columns:
        return table
    import pyarrow as pa

    cols = []
    for col, f in zip(table.columns, want):
        if col.type != f.type and not pa.types.is_null(f.type):
            try:
                col = col.cast(f.type)
            except pa.ArrowInvalid:
                # the local engine's rule too: a uint64 beyond int64 (or a decimal of huge
                # precision) becomes float64, never a wrapped-around integer
                col = col.cast(pa.float64(), safe=False) if pa.types.is_integer(f.type) else col
            except pa.ArrowNotImplementedError:
                pass  # keep Spark's type rather than fail a correct answer
        cols.append(col)
    return pa.Table.from_arrays(cols, names=list(want.names))
