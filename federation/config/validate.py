"""Validate one source against connectors.registry's SOURCE_TYPES.

Only the registry is imported (no drivers), so a workspace validates on a
machine without any optional driver installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.registry import SOURCE_TYPES, OptionSpec, SourceType
from federation.config.interpolate import interpolate_tree
from federation.config.model import SourceConfig
from federation.errors import Location, Problem, did_you_mean

_IDENT = re.compile(r"[a-z_][a-z0-9_]*\Z")
_KIND_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false",
               "list": "a list", "mapping": "a mapping", "str": "text"}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass
class SourceCheck:
    """What validating one source produced."""

    config: SourceConfig | None
    problems: list[Problem] = field(default_factory=list)
    # every value to scrub from messages: environment values and literal secrets
    scrub: set[str] = field(default_factory=set)
    # values of secret options (whole values and the environment values inside them)
    secret_values: set[str] = field(default_factory=set)


def suggest_identifier(name: str) -> str:
    out = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "source"
    return f"s_{out}" if out[0].isdigit() else out


def check_source(name: str, entry: Any, env: Mapping[str, str],
                 where: Callable[[str], Location], key_where: Callable[[str], Location]) -> SourceCheck:
    """Validate and resolve ``sources.<name>``. ``where(path)`` locates a value,
    ``key_where(path)`` a key."""
    path = f"sources.{name}"
    out = SourceCheck(None)
    here = key_where(path)
    if not _IDENT.match(name):
        out.problems.append(Problem(here, f"source name '{name}' is not a SQL identifier",
                                    f"Use lower-case letters, digits and '_', e.g. '{suggest_identifier(name)}'."))
    if not isinstance(entry, dict):
        out.problems.append(Problem(where(path), f"source '{name}' must be a mapping of options",
                                    f"For example: {name}: {{type: sqlite, path: data/{name}.db}}"))
        return out
    stype = _check_type(name, entry, where, out)
    options: dict[str, Any] = {}
    secrets: set[str] = set()
    misspelled: set[str] = set()  # "Did you mean 'x'?" hints given, so 'x' is not also reported missing
    for key, raw in entry.items():
        if key == "type":
            continue
        spec = stype.option(key) if stype else None
        if stype and spec is None:
            names = [o.name for o in stype.options if o.name != "type"]
            close = did_you_mean(key, names)
            out.problems.append(Problem(key_where(f"{path}.{key}"),
                                        f"source '{name}' ({stype.name}) has no option '{key}'",
                                        close or f"Options of {stype.name}: {', '.join(names)}."))
            if close:
                misspelled.add(close)
        value = _option_value(name, key, raw, spec, env, where, out, secrets)
        if spec is not None and value is not None:
            options[key] = value
    if stype is None:
        return out
    for spec in stype.options:
        if spec.required and spec.name not in entry and f"Did you mean '{spec.name}'?" not in misspelled:
            out.problems.append(Problem(here, f"source '{name}' ({stype.name}) needs option '{spec.name}'",
                                        f"Add {spec.name}: ... ({spec.help})" if spec.help else None))
        elif spec.name not in options and spec.default is not None and spec.name != "type":
            options[spec.name] = spec.default
    if out.problems:
        return out
    out.config = SourceConfig(name=name, type=stype.name, options=options, location=here,
                              secret_keys=frozenset(secrets), secret_values=frozenset(out.secret_values))
    return out


def _check_type(name: str, entry: dict[str, Any], where: Callable[[str], Location],
                out: SourceCheck) -> SourceType | None:
    path = f"sources.{name}"
    kind = entry.get("type")
    types = sorted(SOURCE_TYPES)
    if kind is None:
        out.problems.append(Problem(where(path), f"source '{name}' has no type",
                                    f"Add type: one of {', '.join(types)}."))
        return None
    if not isinstance(kind, str):
        out.problems.append(Problem(where(f"{path}.type"), f"the type of source '{name}' must be a name",
                                    f"Types: {', '.join(types)}."))
        return None
    if kind not in SOURCE_TYPES:
        out.problems.append(Problem(where(f"{path}.type"), f"source '{name}' has unknown type '{kind}'",
                                    did_you_mean(kind, types) or f"Types: {', '.join(types)}."))
        return None
    return SOURCE_TYPES[kind]


def _option_value(name: str, key: str, raw: Any, spec: OptionSpec | None, env: Mapping[str, str],
                  where: Callable[[str], Location], out: SourceCheck, secrets: set[str]) -> Any:
    """Interpolate one option, enforce the secret rule, check and coerce its kind."""
    path = f"sources.{name}.{key}"
    result = interpolate_tree(raw, path, env, where)
    out.problems += result.problems
    # Scrub every environment value from messages, secret or not: defensive.
    out.scrub |= {v for v in result.env_values if len(v) >= 4}
    if spec is None:
        return None
    if spec.secret:
        if not isinstance(raw, str) or not result.refs:
            if raw is not None and str(raw):
                out.scrub.add(str(raw))
            var = f"{name}_{key}".upper()
            out.problems.append(Problem(where(path), "secrets come only from the environment: "
                                        f"write {key}: ${{{var}}}",
                                        f"Then set {var} in the environment. The value was not printed."))
            return None
        secrets.add(key)
        out.secret_values |= {v for v in result.env_values if v}
        if isinstance(result.value, str) and result.value:
            out.secret_values.add(result.value)
        out.scrub |= out.secret_values
    if result.problems:
        return None
    return _coerce(name, key, raw, result.value, spec, bool(result.refs), where, out)


def _coerce(name: str, key: str, raw: Any, value: Any, spec: OptionSpec, from_env: bool,
            where: Callable[[str], Location], out: SourceCheck) -> Any:
    kind = spec.kind
    if isinstance(value, str) and from_env and kind in ("int", "float", "bool"):
        text = value.strip()
        try:
            if kind == "bool":
                if text.lower() in _TRUE | _FALSE:
                    return text.lower() in _TRUE
                raise ValueError
            return int(text) if kind == "int" else float(text)
        except ValueError:
            pass
    elif _kind_ok(value, kind):
        return float(value) if kind == "float" else value
    elif kind == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # 'table: 2024' means the text "2024"
    got = "a value from the environment" if from_env or spec.secret else _describe(raw)
    out.problems.append(Problem(where(f"sources.{name}.{key}"),
                                f"option '{key}' of source '{name}' must be {_KIND_WORDS.get(kind, kind)}, got {got}",
                                spec.help or None))
    return None


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    if kind == "mapping":
        return isinstance(value, dict)
    return True


def _describe(raw: Any) -> str:
    words = {bool: "true/false", int: "an integer", float: "a number", list: "a list", dict: "a mapping",
             type(None): "nothing (null)"}
    if isinstance(raw, str):
        return f"text '{raw}'" if len(raw) <= 40 else "text"
    return words.get(type(raw), type(raw).__name__)
