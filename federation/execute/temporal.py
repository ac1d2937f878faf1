"""Dates, timestamps and intervals: literals, arithmetic, DATE_TRUNC, EXTRACT.

Timestamps without a zone are UTC (SPEC.md); a naive and a zoned operand are
reinterpreted, never shifted. Intervals are (months, microseconds) pairs as in
PostgreSQL: months move along the calendar, clamping to the month's last day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from federation.errors import QueryError, UnsupportedError
from federation.execute.expressions import Evaluator, flat, handles
from federation.execute.types import DUR, TS, TSZ, Datum, sql_type_name

_US = {"microsecond": 1, "millisecond": 1000, "second": 1_000_000, "minute": 60_000_000,
       "hour": 3_600_000_000, "day": 86_400_000_000, "week": 7 * 86_400_000_000}
_MONTHS = {"month": 1, "year": 12, "quarter": 3, "decade": 120, "century": 1200}
_ALIASES = {"us": "microsecond", "usec": "microsecond", "ms": "millisecond", "msec": "millisecond",
            "s": "second", "sec": "second", "secs": "second", "m": "minute", "min": "minute",
            "mins": "minute", "h": "hour", "hr": "hour", "hrs": "hour", "d": "day", "w": "week",
            "mon": "month", "mons": "month", "y": "year", "yr": "year", "yrs": "year"}


@dataclass(frozen=True)
class IntervalValue:
    months: int
    micros: int

    def negate(self) -> IntervalValue:
        return IntervalValue(-self.months, -self.micros)

    @property
    def type(self) -> pa.DataType:  # lets error messages name it like a Datum
        return DUR


def unit_name(text: str) -> str:
    u = text.strip().lower()
    u = _ALIASES.get(u, u)
    if u.endswith("s") and u[:-1] in (_US.keys() | _MONTHS.keys()):
        u = u[:-1]
    return _ALIASES.get(u, u)


def parse_interval(text: str, unit: str | None) -> IntervalValue:
    months, micros = 0, 0
    parts = re.findall(r"([-+]?\d+(?:\.\d+)?)\s*([a-zA-Z]*)", text)
    if not parts or (unit is None and any(not p[1] for p in parts)) and len(parts) != 1:
        raise QueryError(f"invalid input syntax for type interval: '{text}'")
    for num, u in parts:
        name = unit_name(u or unit or "second")
        if name in _MONTHS:
            months += int(float(num) * _MONTHS[name])
        elif name in _US:
            micros += int(round(float(num) * _US[name]))
        else:
            raise QueryError(f"invalid input syntax for type interval: '{text}'")
    return IntervalValue(months, micros)


@handles(exp.Interval)
def _interval(ev: Evaluator, node: exp.Expression) -> IntervalValue:  # type: ignore[return]
    unit = node.args.get("unit")
    value = ev.eval(node.this)
    if not isinstance(value, pa.Scalar):
        raise UnsupportedError("INTERVAL built from a column")
    return parse_interval(str(value.as_py()), unit.name if unit is not None else None)


def _add_months(ts: pa.Array, months: int) -> pa.Array:
    """Calendar month arithmetic with PostgreSQL's clamp to the last day of the month."""
    unit_type = ts.type
    vals = flat(ts).cast(TS if pa.types.is_timestamp(unit_type) else pa.date32())
    np_ts = vals.to_numpy(zero_copy_only=False).astype("datetime64[us]")
    day = np_ts.astype("datetime64[D]")
    month = np_ts.astype("datetime64[M]")
    into_month = (day - month.astype("datetime64[D]")).astype(np.int64)
    time_of_day = np_ts - day.astype("datetime64[us]")
    target = month + months
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    out = target.astype("datetime64[D]") + np.minimum(into_month, length - 1) + time_of_day
    arr = pa.array(out.astype("datetime64[us]"), TS, mask=pc.is_null(vals).to_numpy(zero_copy_only=False))
    return arr.cast(unit_type) if pa.types.is_timestamp(unit_type) else arr


def add_interval(v: Datum, iv: IntervalValue) -> Datum:
    if pa.types.is_null(v.type):
        return v.cast(TS)
    if not (pa.types.is_timestamp(v.type) or pa.types.is_date(v.type)):
        raise QueryError(f"operator does not exist: {sql_type_name(v.type)} + interval")
    if pa.types.is_date(v.type):
        v = v.cast(TS)  # date + interval is a timestamp in PostgreSQL
    scalar = isinstance(v, pa.Scalar)
    arr = pa.array([v.as_py()], v.type) if scalar else flat(v)
    if iv.months:
        arr = _add_months(arr, iv.months)
    if iv.micros:
        arr = pc.add(arr, pa.scalar(iv.micros, DUR))
    return arr[0] if scalar else arr


@handles(exp.CurrentDate)
def _current_date(ev: Evaluator, node: exp.Expression) -> Datum:
    return pa.scalar(ev.ctx.now.date(), pa.date32())


@handles(exp.CurrentTimestamp)
def _now(ev: Evaluator, node: exp.Expression) -> Datum:
    return pa.scalar(ev.ctx.now, TSZ)


_TRUNC = {"microsecond": "microsecond", "millisecond": "millisecond", "second": "second",
          "minute": "minute", "hour": "hour", "day": "day", "week": "week", "month": "month",
          "quarter": "quarter", "year": "year"}


def _unit_of(node: exp.Expression, ev: Evaluator) -> str:
    unit = node.args.get("unit")
    if unit is None:
        raise UnsupportedError(f"{node.sql_name()} without a unit")
    if isinstance(unit, (exp.Var, exp.Identifier)) or (isinstance(unit, exp.Literal) and unit.is_string):
        return unit_name(unit.name)
    return unit_name(str(ev.constant(unit, "the DATE_TRUNC unit")))


@handles(exp.TimestampTrunc, exp.DateTrunc, exp.DatetimeTrunc)
def _trunc(ev: Evaluator, node: exp.Expression) -> Datum:
    unit = _unit_of(node, ev)
    if unit not in _TRUNC:
        raise UnsupportedError(f"DATE_TRUNC('{unit}')")
    v = ev.eval(node.this)
    if pa.types.is_null(v.type):
        return v.cast(TSZ)
    if pa.types.is_date(v.type):
        v = v.cast(TSZ)  # PostgreSQL truncates a date as timestamptz
    elif not pa.types.is_timestamp(v.type):
        raise QueryError(f"function date_trunc(unknown, {sql_type_name(v.type)}) does not exist")
    kw = {"week_starts_monday": True} if unit == "week" else {}
    return pc.floor_temporal(v, unit=_TRUNC[unit], **kw)


def _seconds(v: Datum) -> Datum:
    whole = pc.second(v).cast(pa.float64())
    frac = pc.divide(pc.add(pc.multiply(pc.millisecond(v), 1000), pc.microsecond(v)).cast(pa.float64()), 1e6)
    return pc.add(whole, frac)


def _epoch(v: Datum) -> Datum:
    if pa.types.is_date(v.type):
        v = v.cast(TS)
    if pa.types.is_duration(v.type):
        return pc.divide(v.cast(DUR).cast(pa.int64()).cast(pa.float64()), 1e6)
    us = v.cast(TS if not v.type.tz else TSZ).cast(pa.int64())
    return pc.divide(us.cast(pa.float64()), 1e6)


_FIELDS = {
    "year": pc.year, "month": pc.month, "day": pc.day, "hour": pc.hour, "minute": pc.minute,
    "quarter": pc.quarter, "doy": pc.day_of_year, "week": pc.iso_week, "isoyear": pc.iso_year,
    "dow": lambda v: pc.day_of_week(v, count_from_zero=True, week_start=7),
    "isodow": lambda v: pc.day_of_week(v, count_from_zero=False, week_start=1),
    "second": _seconds, "epoch": _epoch,
    "millisecond": lambda v: pc.multiply(_seconds(v), 1000.0),
    "microsecond": lambda v: pc.add(pc.multiply(pc.second(v), 1_000_000),
                                    pc.add(pc.multiply(pc.millisecond(v), 1000), pc.microsecond(v))),
}


def extract(field: str, v: Datum) -> Datum:
    field = {"dayofweek": "dow", "dayofyear": "doy", "days": "day", "years": "year",
             "months": "month", "hours": "hour", "minutes": "minute", "seconds": "second",
             "milliseconds": "millisecond", "microseconds": "microsecond"}.get(field, field)
    if isinstance(v, IntervalArray):
        return extract_interval(field, v)
    if isinstance(v, IntervalValue):
        if field == "epoch":
            return pa.scalar(v.months * 30 * 86400 + v.micros / 1e6)
        raise UnsupportedError(f"EXTRACT({field} FROM interval)")
    fn = _FIELDS.get(field)
    if fn is None:
        raise UnsupportedError(f"EXTRACT({field.upper()} ...)")
    if pa.types.is_null(v.type):
        return pa.scalar(None, pa.float64()) if isinstance(v, pa.Scalar) else v.cast(pa.float64())
    if pa.types.is_duration(v.type) and field != "epoch":
        raise UnsupportedError(f"EXTRACT({field.upper()} FROM interval)")
    if not (pa.types.is_timestamp(v.type) or pa.types.is_date(v.type) or pa.types.is_duration(v.type)):
        raise QueryError(f"function extract(unknown, {sql_type_name(v.type)}) does not exist")
    if pa.types.is_date(v.type) and field in ("hour", "minute", "second", "millisecond", "microsecond"):
        raise QueryError(f"unit \"{field}\" not supported for type date")
    out = fn(v)
    return out.cast(pa.int64()) if pa.types.is_integer(out.type) else out


@handles(exp.Extract)
def _extract(ev: Evaluator, node: exp.Expression) -> Datum:
    part = node.this
    field = part.name if isinstance(part, (exp.Var, exp.Identifier, exp.Literal)) else str(
        ev.constant(part, "the EXTRACT field"))
    return extract(field.lower(), ev.eval(node.expression))


@handles(exp.Date, exp.TsOrDsToDate)
def _date_of(ev: Evaluator, node: exp.Expression) -> Datum:
    from federation.execute.functions import cast_to

    if node.expressions if hasattr(node, "expressions") and node.args.get("expressions") else False:
        raise UnsupportedError(f"{node.sql_name()} with several arguments")
    return cast_to(ev.eval(node.this), pa.date32())


def interval_array(iv: IntervalValue | IntervalArray, n: int) -> pa.Array:
    """An interval as a result column: AGE's become month_day_nano intervals, fixed-length
    literals durations."""
    if isinstance(iv, IntervalArray):
        return iv.to_arrow()
    if iv.months:
        raise UnsupportedError("an interval with months or years as a result column")
    return pa.nulls(n, DUR).fill_null(pa.scalar(iv.micros, DUR))


_SAFE_DIRECTIVES = re.compile(r"%-?[YmdHMSyIpj]")


def _strftime_format(ev: Evaluator, node: exp.Expression, fn: str) -> str:
    """sqlglot has translated the PostgreSQL pattern to strftime; accept it only when no
    PostgreSQL letter pattern was left untranslated (e.g. 'Mon'), which would print wrong."""
    fmt = ev.constant(node.args["format"], f"the {fn} format")
    if fmt is None:
        raise UnsupportedError(f"{fn} with a NULL format")
    rest = _SAFE_DIRECTIVES.sub("", str(fmt))
    if any(c.isalpha() or c == "%" for c in rest):
        raise UnsupportedError(f"{fn} format patterns other than YYYY, YY, MM, DD, HH24, HH12, AM, MI, SS, DDD")
    return str(fmt).replace("%-", "%")  # Arrow has no unpadded directives: checked below


@handles(exp.TimeToStr)
def _to_char(ev: Evaluator, node: exp.Expression) -> Datum:
    raw = ev.constant(node.args["format"], "the TO_CHAR format")
    if raw is not None and "%-" in str(raw):
        raise UnsupportedError("TO_CHAR with FM (unpadded) patterns")
    fmt = _strftime_format(ev, node, "TO_CHAR")
    v = ev.eval(node.this)
    if pa.types.is_date(v.type):
        v = v.cast(TS)
    if not pa.types.is_timestamp(v.type):
        raise UnsupportedError(f"TO_CHAR of {sql_type_name(v.type)}")
    # Arrow's %S prints fractional seconds; PostgreSQL's SS does not
    return pc.strftime(v.cast(pa.timestamp("s", v.type.tz), safe=False), format=fmt)


@handles(exp.StrToDate, exp.StrToTime)
def _to_date(ev: Evaluator, node: exp.Expression) -> Datum:
    fmt = _strftime_format(ev, node, "TO_DATE/TO_TIMESTAMP")
    v = ev.eval(node.this)
    if not pa.types.is_string(v.type):
        raise QueryError(f"function to_date({sql_type_name(v.type)}, text) does not exist")
    parsed = pc.strptime(v, format=fmt, unit="us", error_is_null=False)
    return parsed.cast(pa.date32()) if isinstance(node, exp.StrToDate) else parsed.cast(TSZ)


@handles(exp.UnixToTime)
def _to_timestamp(ev: Evaluator, node: exp.Expression) -> Datum:
    if node.args.get("scale") is not None or node.args.get("zone") is not None:
        raise UnsupportedError("TO_TIMESTAMP with a scale or zone")
    v = ev.eval(node.this)
    if not (pa.types.is_integer(v.type) or pa.types.is_floating(v.type)):
        raise QueryError(f"function to_timestamp({sql_type_name(v.type)}) does not exist")
    us = pc.round(pc.multiply(v.cast(pa.float64()), 1e6)).cast(pa.int64())
    return us.cast(TSZ)


MDN = pa.month_day_nano_interval()
_DAY_US = 86_400_000_000


@dataclass
class IntervalArray:
    """A column of PostgreSQL intervals (AGE's result), kept as numpy fields."""

    months: np.ndarray
    days: np.ndarray
    micros: np.ndarray
    null: np.ndarray

    @property
    def type(self) -> pa.DataType:
        return MDN

    def to_arrow(self) -> pa.Array:
        values = [None if self.null[i] else (int(self.months[i]), int(self.days[i]), int(self.micros[i]) * 1000)
                  for i in range(len(self.null))]
        return pa.array(values, MDN)

    def span(self) -> pa.Array:
        """PostgreSQL orders intervals by months * 30 days + days + time."""
        total = (self.months * 30 + self.days) * _DAY_US + self.micros
        return pa.array(total, pa.int64(), mask=self.null)


def _components(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    day = ts.astype("datetime64[D]")
    month = ts.astype("datetime64[M]")
    year = ts.astype("datetime64[Y]")
    return (year.astype(np.int64) + 1970, (month - year.astype("datetime64[M]")).astype(np.int64) + 1,
            (day - month.astype("datetime64[D]")).astype(np.int64) + 1,
            (ts - day.astype("datetime64[us]")).astype(np.int64))


def _month_length(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    m = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    return ((m + 1).astype("datetime64[D]") - m.astype("datetime64[D]")).astype(np.int64)


def _as_ts_array(v: Datum, n: int) -> pa.Array:
    if pa.types.is_date(v.type) or (pa.types.is_timestamp(v.type) and v.type.tz):
        v = v.cast(TS)
    if not pa.types.is_timestamp(v.type):
        raise QueryError(f"function age({sql_type_name(v.type)}) does not exist")
    if isinstance(v, pa.Scalar):
        return pa.nulls(n, TS) if not v.is_valid else pa.nulls(n, TS).fill_null(v.cast(TS))
    return flat(v).cast(TS)


def age(a: Datum, b: Datum) -> IntervalArray:
    """PostgreSQL's AGE(a, b): years, months and days between two instants, borrowing days
    from the earlier instant's month (so age('2024-03-01', '2024-01-31') is 1 mon 1 day)."""
    n = max(1 if isinstance(x, pa.Scalar) else len(x) for x in (a, b))
    xa, ya = _as_ts_array(a, n), _as_ts_array(b, n)
    null = pc.or_(pc.is_null(xa), pc.is_null(ya)).to_numpy(zero_copy_only=False)
    x, y = (pc.fill_null(c, pa.scalar(0, TS)).to_numpy(zero_copy_only=False).astype("datetime64[us]") for c in (xa, ya))
    neg = x < y
    hi, lo = np.where(neg, y, x), np.where(neg, x, y)
    (y1, m1, d1, t1), (y2, m2, d2, t2) = _components(hi), _components(lo)
    months, days, micros = (y1 - y2) * 12 + (m1 - m2), d1 - d2, t1 - t2
    borrow = micros < 0
    micros, days = np.where(borrow, micros + _DAY_US, micros), np.where(borrow, days - 1, days)
    length = _month_length(y2, m2)
    while (days < 0).any():
        short = days < 0
        days, months = np.where(short, days + length, days), np.where(short, months - 1, months)
    sign = np.where(neg, -1, 1)
    return IntervalArray(sign * months, sign * days, sign * micros, null)


def extract_interval(field: str, v: IntervalArray) -> pa.Array:
    years = np.trunc(v.months / 12).astype(np.int64)
    out = {"year": years, "month": v.months - years * 12, "day": v.days,
           "hour": v.micros // 3_600_000_000, "minute": (v.micros // 60_000_000) % 60,
           "epoch": years * 365.25 * 86400 + (v.months - years * 12) * 30 * 86400 + v.days * 86400 + v.micros / 1e6,
           }.get(field)
    if out is None:
        raise UnsupportedError(f"EXTRACT({field.upper()} FROM interval)")
    return pa.array(out, mask=v.null)


def interval_operands(a: object, b: object) -> tuple[object, object]:
    """Make interval operands comparable: AGE's intervals compare by span (months as 30 days,
    as PostgreSQL orders intervals); fixed-length INTERVAL literals against durations."""
    if isinstance(a, IntervalArray) or isinstance(b, IntervalArray):
        return _span(a), _span(b)
    return _fixed(a), _fixed(b)


def _span(v: object) -> object:
    if isinstance(v, IntervalArray):
        return v.span()
    if isinstance(v, IntervalValue):
        return pa.scalar(v.months * 30 * _DAY_US + v.micros, pa.int64())
    if isinstance(v, (pa.Array, pa.ChunkedArray, pa.Scalar)) and pa.types.is_duration(v.type):
        return v.cast(pa.int64())
    raise QueryError("operator does not exist: interval and " + sql_type_name(v.type))  # type: ignore[attr-defined]


def _fixed(v: object) -> object:
    if not isinstance(v, IntervalValue):
        return v
    if v.months:
        raise UnsupportedError("comparing with an interval of months or years")
    return pa.scalar(v.micros, DUR)
