"""``${VAR}`` / ``${VAR:-default}`` interpolation of workspace string values.

- ``${VAR}``: the environment variable's value; a problem when it is not set.
- ``${VAR:-default}``: the default when VAR is unset or empty (as in a shell).
- ``$${``: a literal ``${``.

Several references may share one string with plain text around them
(``postgresql://u:${PW}@h/db``). Values taken from the environment are returned
so the caller can keep them as secrets and scrub them from every message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from federation.errors import Location, Problem

_TOKEN = re.compile(r"\$\$\{|\$\{(?P<inner>[^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SYNTAX = "Write ${NAME} or ${NAME:-default}; write $${ for a literal ${."


@dataclass
class Expansion:
    """The result of interpolating one string."""

    value: str
    env_values: list[str] = field(default_factory=list)  # values that came from the environment
    refs: list[str] = field(default_factory=list)  # variable names referenced
    errors: list[tuple[str, str]] = field(default_factory=list)  # (message, hint)


def expand(text: str, env: Mapping[str, str]) -> Expansion:
    out = Expansion("")
    parts: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        parts.append(text[pos:m.start()])
        pos = m.end()
        token = m.group(0)
        if token == "$${":
            parts.append("${")
        elif m.group("inner") is None:
            out.errors.append(("'${' is not closed with '}'", _SYNTAX))
            parts.append(token)
        else:
            parts.append(_resolve(m.group("inner"), env, out))
    parts.append(text[pos:])
    out.value = "".join(parts)
    return out


def _resolve(inner: str, env: Mapping[str, str], out: Expansion) -> str:
    name, sep, default = inner.partition(":-")
    name = name.strip()
    if not _NAME.match(name):
        out.errors.append((f"'${{{inner}}}' is not a valid variable reference", _SYNTAX))
        return ""
    out.refs.append(name)
    value = env.get(name)
    if value is None or (sep and value == ""):
        if sep:
            return default
        out.errors.append((f"environment variable {name} is not set",
                           f"Set {name} or give a default: ${{{name}:-...}}"))
        return ""
    out.env_values.append(value)
    return value


@dataclass
class TreeResult:
    value: Any
    problems: list[Problem] = field(default_factory=list)
    env_values: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)


def interpolate_tree(value: Any, path: str, env: Mapping[str, str],
                     where: Callable[[str], Location]) -> TreeResult:
    """Interpolate every string inside ``value`` (lists and mappings included).

    ``where(path)`` gives the location to report a problem at."""
    result = TreeResult(None)
    result.value = _walk(value, path, env, where, result)
    return result


def _walk(value: Any, path: str, env: Mapping[str, str],
          where: Callable[[str], Location], result: TreeResult) -> Any:
    if isinstance(value, str):
        exp = expand(value, env)
        result.env_values += exp.env_values
        result.refs += exp.refs
        result.problems += [Problem(where(path), msg, hint) for msg, hint in exp.errors]
        return exp.value
    if isinstance(value, dict):
        return {k: _walk(v, f"{path}.{k}" if path else str(k), env, where, result) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, f"{path}[{i}]", env, where, result) for i, v in enumerate(value)]
    return value
