"""Dates in segment YAML: absolute (ISO) or relative to the run's ``as_of`` instant.

Forms (all evaluated when the segment runs, against ``as_of``, UTC):

- ``now``, ``today`` (midnight of ``as_of``), ``yesterday``;
- ``-30d``, ``+2w``, ``-12h``, ``-15m`` (minutes), ``-3M`` (months), ``-1y``: an
  offset from ``as_of``; ``today-7d`` is an offset from midnight;
- ``2026-01-31`` or ``2026-01-31T10:00:00`` (a YAML date or datetime works too).

Durations (``within: 30d``) use the same units without a sign.
"""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.timezone.utc
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_REL = re.compile(r"^(now|today|yesterday)?\s*([+-])\s*(\d+)\s*([mhdwMy])$|^(now|today|yesterday)$")
_DUR = re.compile(r"^(\d+)\s*([mhdwMy])$")


class DateError(ValueError):
    """A date or duration the YAML spelled in a way we do not read."""


def parse_as_of(value: str | dt.datetime | dt.date | None) -> dt.datetime:
    """The run's reference instant: ``None`` is now (UTC); naive values are UTC."""
    if value is None:
        return dt.datetime.now(UTC).replace(microsecond=0)
    when = resolve_date(value, dt.datetime.now(UTC))
    return when


def _shift(base: dt.datetime, sign: int, n: int, unit: str) -> dt.datetime:
    if unit in _UNITS:
        return base + sign * dt.timedelta(**{_UNITS[unit]: n})
    months = n * (12 if unit == "y" else 1) * sign
    y, m = divmod(base.month - 1 + months, 12)
    year, month = base.year + y, m + 1
    # clamp the day: 31 Jan - 1 month is 28/29 Feb, as calendars do
    import calendar

    day = min(base.day, calendar.monthrange(year, month)[1])
    return base.replace(year=year, month=month, day=day)


def _anchor(word: str | None, as_of: dt.datetime) -> dt.datetime:
    midnight = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "today":
        return midnight
    if word == "yesterday":
        return midnight - dt.timedelta(days=1)
    return as_of


def resolve_date(value: object, as_of: dt.datetime) -> dt.datetime:
    """An aware UTC datetime for ``value`` (see the module docstring)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise DateError(f"{value!r} is not a date")
    text = value.strip()
    m = _REL.match(text)
    if m:
        if m.group(5):
            return _anchor(m.group(5), as_of)
        sign = -1 if m.group(2) == "-" else 1
        return _shift(_anchor(m.group(1), as_of), sign, int(m.group(3)), m.group(4))
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DateError(f"'{text}' is not a date (use 2026-01-31, now, today, or an offset such as -30d)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_duration(value: object) -> tuple[int, str]:
    """``30d`` → (30, 'd'); a bare number means days."""
    if isinstance(value, bool):
        raise DateError(f"{value!r} is not a duration")
    if isinstance(value, int):
        return value, "d"
    m = _DUR.match(str(value).strip())
    if not m:
        raise DateError(f"'{value}' is not a duration (use 30d, 12h, 2w, 3M, 1y)")
    return int(m.group(1)), m.group(2)


def window_start(duration: object, as_of: dt.datetime) -> dt.datetime:
    n, unit = parse_duration(duration)
    return _shift(as_of, -1, n, unit)


def iso(when: dt.datetime) -> str:
    """'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC, without an offset (timestamps are UTC)."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
