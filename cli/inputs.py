"""Reading what the user typed: the SQL text (argument or -f FILE), --param, --dialect."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from federation.errors import UsageError, did_you_mean


def read_sql(sql: str | None, file: Path | None) -> str:
    """The query from the argument or from ``-f FILE`` (``-f -`` reads stdin); exactly one."""
    if sql is not None and file is not None:
        raise UsageError("give the query either as an argument or with -f FILE, not both")
    if file is not None:
        if str(file) == "-":
            return sys.stdin.read()
        try:
            return file.read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot read query file {file}: {e.strerror or e}") from None
    if sql is None or not sql.strip():
        raise UsageError("no query given", hint="Pass the SQL as an argument (quoted) or with -f FILE.")
    return sql


def parse_value(text: str) -> Any:
    """``--param`` values: integers, floats, true/false and null are typed; anything else is text.

    Quote a value to force text: ``--param zip="'01234'"``."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    for cast in (int, float):
        try:
            value = cast(text)
        except ValueError:
            continue
        if cast is float and low in ("nan", "inf", "-inf", "infinity", "-infinity", "+inf"):
            break  # "inf" is more likely a word than a float here
        return value
    return text


def parse_params(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip().lstrip(":")
        if not sep or not name:
            raise UsageError(f"--param needs NAME=VALUE, got '{item}'", hint="Example: --param country=DE")
        out[name] = parse_value(value)
    return out


def check_dialect(name: str) -> str:
    """A sqlglot dialect name, or a usage error suggesting the closest one."""
    from sqlglot.dialects.dialect import Dialect, Dialects

    known = sorted(d.value for d in Dialects if d.value)
    try:
        Dialect.get_or_raise(name)
    except ValueError:
        raise UsageError(f"unknown --dialect '{name}'",
                         hint=did_you_mean(name, known) or f"Known dialects: {', '.join(known)}.") from None
    return name
