"""--param parsing and the text form of values (shared by json, csv and table output)."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from cli.inputs import parse_params, parse_value
from cli.values import json_text, text
from federation.errors import UsageError


@pytest.mark.parametrize(("raw", "value"), [
    ("12", 12), ("-3", -3), ("1.5", 1.5), ("true", True), ("FALSE", False), ("null", None),
    ("DE", "DE"), ("'01234'", "01234"), ("a=b", "a=b"), ("", ""), ("inf", "inf"),
])
def test_param_values_are_typed(raw: str, value: object) -> None:
    assert parse_value(raw) == value and type(parse_value(raw)) is type(value)


def test_params_need_name_and_equals() -> None:
    assert parse_params(["country=DE", ":n=3"]) == {"country": "DE", "n": 3}
    with pytest.raises(UsageError, match="NAME=VALUE"):
        parse_params(["country"])


def test_json_text_rules() -> None:
    utc = dt.timezone.utc
    assert json_text({"t": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=utc)}) == '{"t": "2025-01-02T03:04:05Z"}'
    assert json_text(dt.datetime(2025, 1, 2, 3, 4, 5, 120)) == '"2025-01-02T03:04:05.000120Z"'
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert json_text(dt.datetime(2025, 1, 2, 3, 0, tzinfo=plus2)) == '"2025-01-02T01:00:00Z"'
    assert json_text(dt.date(2025, 1, 2)) == '"2025-01-02"'
    assert json_text(decimal.Decimal("12.50")) == "12.50"
    assert json_text(float("nan")) == "null" and json_text(None) == "null"
    assert json_text([1, "a", None]) == '[1, "a", null]'
    assert text(True) == "true" and text(b"\x00\x01") == "AAE="
