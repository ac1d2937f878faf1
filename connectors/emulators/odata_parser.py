"""Parse and evaluate the Dataverse ``$filter`` grammar (CRM-PROTOCOLS 3.2).

    expr    := and ('or' and)*          and := unary ('and' unary)*
    unary   := 'not' unary | '(' expr ')' | call | operand cmp operand
    cmp     := eq ne gt ge lt le
    call    := contains|startswith|endswith '(' prop ',' 'text' ')'
             | Microsoft.Dynamics.CRM.(In|NotIn|Between|NotBetween|ContainValues|DoesNotContainValues)
               '(' PropertyName=<'name'|@p> ',' PropertyValues=<["a","b"]|@p> ')'
    operand := property | 'text' | number | true | false | null | datetime | guid | @alias

Evaluation follows SQL's three-valued logic (a row is kept only when the filter is
true, never when it is null) and compares strings without regard to case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

CMP = {"eq", "ne", "gt", "ge", "lt", "le"}
STRING_FUNCS = {"contains", "startswith", "endswith"}
CRM_FUNCS = {"In", "NotIn", "Between", "NotBetween", "ContainValues", "DoesNotContainValues"}


class ODataError(Exception):
    def __init__(self, message: str, code: str = "0x80060888") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<str>'(?:[^']|'')*')
  | (?P<arr>\[[^\]]*\])
  | (?P<alias>@\w+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op>[(),=/])
  | (?P<bad>\S)
    )""",
    re.VERBOSE,
)


def tokenize(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            break
        pos = m.end()
        kind = m.lastgroup or "bad"
        raw = m.group(kind)
        if kind == "bad":
            raise ODataError(f"Syntax error at position {pos}: unexpected '{raw}'.")
        if kind == "dt":
            out.append(("lit", datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(timezone.utc)))
        elif kind == "guid":
            out.append(("lit", raw.lower()))
        elif kind == "num":
            out.append(("lit", float(raw) if re.search(r"[.eE]", raw) else int(raw)))
        elif kind == "str":
            out.append(("lit", raw[1:-1].replace("''", "'")))
        elif kind == "arr":
            try:
                out.append(("arr", tuple(json.loads(raw))))
            except ValueError as e:
                raise ODataError(f"Syntax error: bad value list {raw[:40]}") from e
        elif kind == "ident" and raw in ("true", "false", "null"):
            out.append(("lit", {"true": True, "false": False, "null": None}[raw]))
        else:
            out.append((kind, raw))
    out.append(("eof", None))
    return out


class _Parser:
    def __init__(self, text: str, aliases: Mapping[str, str]) -> None:
        self.toks = tokenize(text)
        self.i = 0
        self.aliases = aliases

    def peek(self) -> tuple[str, Any]:
        return self.toks[self.i]

    def take(self) -> tuple[str, Any]:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def expect(self, kind: str, value: Any = None) -> Any:
        k, v = self.take()
        if k != kind or (value is not None and v != value):
            raise ODataError(f"Syntax error: expected '{value or kind}' but found '{v}'.")
        return v

    def parse(self) -> Any:
        node = self.expr()
        if self.peek()[0] != "eof":
            raise ODataError(f"Syntax error: unexpected '{self.peek()[1]}'.")
        return node

    def expr(self) -> Any:
        node = self.conj()
        while self.peek() == ("ident", "or"):
            self.take()
            node = ("or", node, self.conj())
        return node

    def conj(self) -> Any:
        node = self.unary()
        while self.peek() == ("ident", "and"):
            self.take()
            node = ("and", node, self.unary())
        return node

    def unary(self) -> Any:
        if self.peek() == ("ident", "not"):
            self.take()
            return ("not", self.unary())
        if self.peek() == ("op", "("):
            self.take()
            node = self.expr()
            self.expect("op", ")")
            return node
        k, v = self.peek()
        if k == "ident" and v in STRING_FUNCS:
            self.take()
            self.expect("op", "(")
            prop = self.expect("ident")
            self.expect("op", ",")
            needle = self.operand()
            self.expect("op", ")")
            return (v, ("prop", prop), needle)
        if k == "ident" and v.startswith("Microsoft.Dynamics.CRM."):
            return self.crm_call()
        left = self.operand()
        op = self.expect("ident")
        if op not in CMP:
            raise ODataError(f"Syntax error: unknown operator '{op}'.")
        return ("cmp", op, left, self.operand())

    def crm_call(self) -> Any:
        name = self.take()[1].split(".")[-1]
        if name not in CRM_FUNCS:
            raise ODataError(f"The function Microsoft.Dynamics.CRM.{name} is not supported.")
        self.expect("op", "(")
        args: dict[str, Any] = {}
        while True:
            key = self.expect("ident")
            self.expect("op", "=")
            args[key] = self.named_value()
            if self.peek() != ("op", ","):
                break
            self.take()
        self.expect("op", ")")
        if "PropertyName" not in args or "PropertyValues" not in args:
            raise ODataError(f"Microsoft.Dynamics.CRM.{name} needs PropertyName and PropertyValues.")
        values = args["PropertyValues"]
        if not isinstance(values, tuple):
            raise ODataError("PropertyValues must be a collection of strings.")
        return ("crm", name, str(args["PropertyName"]), values)

    def named_value(self) -> Any:
        k, v = self.take()
        if k == "alias":
            if v not in self.aliases:
                raise ODataError(f"The parameter alias '{v}' is not defined.")
            inner = tokenize(self.aliases[v])
            return inner[0][1]
        if k in ("lit", "arr"):
            return v
        raise ODataError(f"Syntax error: unexpected '{v}'.")

    def operand(self) -> Any:
        k, v = self.take()
        if k == "lit":
            return ("lit", v)
        if k == "alias":
            if v not in self.aliases:
                raise ODataError(f"The parameter alias '{v}' is not defined.")
            return ("lit", tokenize(self.aliases[v])[0][1])
        if k == "ident":
            return ("prop", v)
        raise ODataError(f"Syntax error: unexpected '{v}'.")


def parse_filter(text: str, aliases: Mapping[str, str] | None = None) -> Any:
    return _Parser(text, aliases or {}).parse()


def _like_rx(pattern: str) -> re.Pattern[str]:
    # Dataverse lets % _ [..] act as wildcards inside contains/startswith/endswith
    out = []
    for part in re.split(r"(\[[^\]]*\]|%|_)", pattern):
        if part == "%":
            out.append(".*")
        elif part == "_":
            out.append(".")
        elif part.startswith("[") and part.endswith("]") and len(part) > 2:
            inner = part[1:-1]
            out.append("[^" + re.escape(inner[1:]) + "]" if inner.startswith("^") else "[" + re.escape(inner) + "]")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _norm(v: Any) -> Any:
    return v.casefold() if isinstance(v, str) else v


Row = Mapping[str, Any]


def compile_filter(node: Any, coerce: Callable[[str, Any], Any], resolve: Callable[[str], str]) -> Callable[[Row], bool | None]:
    """A three-valued row predicate. ``coerce(prop, literal)`` types a literal for a
    property (raising ODataError on a mismatch); ``resolve`` validates property names."""
    kind = node[0]
    if kind in ("and", "or"):
        a, b = compile_filter(node[1], coerce, resolve), compile_filter(node[2], coerce, resolve)
        if kind == "and":
            return lambda r: _and(a(r), b(r))
        return lambda r: _or(a(r), b(r))
    if kind == "not":
        inner = compile_filter(node[1], coerce, resolve)
        return lambda r: None if (x := inner(r)) is None else not x
    if kind in STRING_FUNCS:
        prop = resolve(node[1][1])
        needle = node[2][1] if node[2][0] == "lit" else None
        if not isinstance(needle, str):
            raise ODataError(f"{kind} needs a string value.")
        pat = {"contains": f"%{needle}%", "startswith": f"{needle}%", "endswith": f"%{needle}"}[kind]
        rx = _like_rx(pat)
        return lambda r: None if r.get(prop) is None else rx.fullmatch(str(r.get(prop))) is not None
    if kind == "crm":
        return _crm(node, coerce, resolve)
    _, op, left, right = node
    get_l = _operand(left, right, coerce, resolve)
    get_r = _operand(right, left, coerce, resolve)
    if op in ("eq", "ne") and (left == ("lit", None) or right == ("lit", None)):
        other = get_r if left == ("lit", None) else get_l
        return lambda r: (other(r) is None) == (op == "eq")
    fn = {"eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "gt": lambda x, y: x > y,
          "ge": lambda x, y: x >= y, "lt": lambda x, y: x < y, "le": lambda x, y: x <= y}[op]

    def run(r: Row) -> bool | None:
        x, y = get_l(r), get_r(r)
        if x is None or y is None:
            return None
        try:
            return fn(_norm(x), _norm(y))
        except TypeError as e:
            raise ODataError("A binary operator with incompatible types was detected.") from e

    return run


def _operand(node: Any, other: Any, coerce: Callable[[str, Any], Any], resolve: Callable[[str], str]) -> Callable[[Row], Any]:
    if node[0] == "prop":
        prop = resolve(node[1])
        return lambda r: coerce(prop, r.get(prop)) if r.get(prop) is not None else None
    value = node[1]
    if other[0] == "prop" and value is not None:
        value = coerce(resolve(other[1]), value)
    return lambda r: value


def _crm(node: Any, coerce: Callable[[str, Any], Any], resolve: Callable[[str], str]) -> Callable[[Row], bool | None]:
    _, name, prop_name, values = node
    prop = resolve(prop_name)
    if name in ("ContainValues", "DoesNotContainValues"):
        want = {str(v) for v in values}
        has = name == "ContainValues"
        return lambda r: None if r.get(prop) is None else bool(want & set(str(r.get(prop)).split(","))) == has
    typed = [_norm(coerce(prop, v)) for v in values]
    if name in ("Between", "NotBetween"):
        if len(typed) != 2:
            raise ODataError(f"Microsoft.Dynamics.CRM.{name} needs exactly two values.")
        lo, hi = typed
        inside = name == "Between"
        return lambda r: None if r.get(prop) is None else (lo <= _norm(coerce(prop, r.get(prop))) <= hi) == inside
    member = name == "In"
    return lambda r: None if r.get(prop) is None else (_norm(coerce(prop, r.get(prop))) in typed) == member


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False
