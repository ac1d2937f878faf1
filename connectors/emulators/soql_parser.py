"""Parse the SOQL subset the Salesforce emulator answers (CRM-PROTOCOLS 2.2).

The grammar, informally::

    SELECT item (, item)* FROM Object [WHERE cond] [GROUP BY field (, field)*]
        [ORDER BY key [ASC|DESC] [NULLS FIRST|LAST] (, ...)*] [LIMIT n] [OFFSET n]
    item  := field | COUNT() | AGG(field) [alias]       AGG in COUNT COUNT_DISTINCT SUM AVG MIN MAX
    cond  := term ((AND|OR) term)*      mixing AND and OR needs parentheses, as in SOQL
    term  := NOT term | '(' cond ')' | field op value | field [NOT] IN (values)
           | field LIKE 'pattern' | field INCLUDES|EXCLUDES ('a;b', 'c')

Errors are ``SoqlError(code, message)`` with Salesforce's error codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

AGGS = {"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"}
OPS = {"=", "!=", "<>", "<", "<=", ">", ">="}
RELATIVE = {"TODAY", "YESTERDAY", "TOMORROW", "THIS_MONTH", "LAST_MONTH", "THIS_YEAR", "LAST_N_DAYS", "NEXT_N_DAYS"}
KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "INCLUDES", "EXCLUDES", "GROUP", "BY",
            "ORDER", "ASC", "DESC", "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL", "HAVING"}


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Relative:
    """A relative date literal (TODAY, LAST_N_DAYS:n), resolved against the clock later."""

    name: str
    n: int = 0


@dataclass(frozen=True)
class Cmp:
    field: str
    op: str  # = != < <= > >= IN NOT IN LIKE INCLUDES EXCLUDES
    value: Any  # a literal, a tuple of literals, or Relative


@dataclass(frozen=True)
class Logic:
    op: str  # AND OR NOT
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Item:
    func: str | None  # None for a plain field, else an aggregate name
    field: str | None  # None for COUNT()
    alias: str | None = None


@dataclass(frozen=True)
class Order:
    key: Item
    desc: bool = False
    nulls_first: bool | None = None


@dataclass
class Query:
    items: list[Item]
    sobject: str
    where: Any = None
    group_by: list[str] = field(default_factory=list)
    order_by: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None

    @property
    def is_aggregate(self) -> bool:
        return bool(self.group_by) or any(i.func for i in self.items)


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<d>\d{4}-\d{2}-\d{2})
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,|:)
  | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
_ESC = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESC.get(m.group(1), "\\" + m.group(1)), body)


def tokenize(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup
        raw = m.group(kind)
        if kind == "bad":
            raise SoqlError("MALFORMED_QUERY", f"unexpected character {raw!r} (use single quotes for strings)")
        if kind == "dt":
            out.append(("dt", datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(timezone.utc)))
        elif kind == "d":
            out.append(("d", date.fromisoformat(raw)))
        elif kind == "num":
            out.append(("num", float(raw) if "." in raw else int(raw)))
        elif kind == "str":
            out.append(("str", _unescape(raw[1:-1])))
        elif kind == "ident":
            up = raw.upper()
            out.append(("kw", up) if up in KEYWORDS else ("ident", raw))
        else:
            out.append(("op", raw))
    out.append(("eof", None))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> tuple[str, Any]:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self) -> tuple[str, Any]:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def accept(self, kind: str, value: Any = None) -> bool:
        k, v = self.peek()
        if k == kind and (value is None or v == value):
            self.i += 1
            return True
        return False

    def expect(self, kind: str, value: Any = None) -> Any:
        k, v = self.take()
        if k != kind or (value is not None and v != value):
            want = value or kind
            raise SoqlError("MALFORMED_QUERY", f"expecting {want!r}, found {v if v is not None else 'end of query'!r}")
        return v

    def query(self) -> Query:
        self.expect("kw", "SELECT")
        items = [self.item()]
        while self.accept("op", ","):
            items.append(self.item())
        self.expect("kw", "FROM")
        q = Query(items=items, sobject=self.expect("ident"))
        if self.accept("kw", "WHERE"):
            q.where = self.cond()
        if self.accept("kw", "GROUP"):
            self.expect("kw", "BY")
            q.group_by = [self.expect("ident")]
            while self.accept("op", ","):
                q.group_by.append(self.expect("ident"))
        if self.accept("kw", "ORDER"):
            self.expect("kw", "BY")
            q.order_by = [self.order()]
            while self.accept("op", ","):
                q.order_by.append(self.order())
        if self.accept("kw", "LIMIT"):
            q.limit = self.expect("num")
        if self.accept("kw", "OFFSET"):
            q.offset = self.expect("num")
        if self.peek()[0] != "eof":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: {self.peek()[1]!r}")
        return q

    def item(self) -> Item:
        k, v = self.peek()
        if k == "ident" and v.upper() in AGGS and self.peek(1) == ("op", "("):
            self.i += 2
            arg = None if self.peek() == ("op", ")") else self.expect("ident")
            self.expect("op", ")")
            if arg is None and v.upper() != "COUNT":
                raise SoqlError("MALFORMED_QUERY", f"{v.upper()}() needs a field")
            alias = self.take()[1] if self.peek()[0] == "ident" else None
            return Item(v.upper(), arg, alias)
        return Item(None, self.expect("ident"))

    def order(self) -> Order:
        key = self.item()
        desc = self.accept("kw", "DESC")
        if not desc:
            self.accept("kw", "ASC")
        nulls = None
        if self.accept("kw", "NULLS"):
            nulls = self.take() == ("kw", "FIRST")
        return Order(key, desc, nulls)

    def cond(self) -> Any:
        first = self.term()
        ops: list[str] = []
        args = [first]
        while self.peek() in (("kw", "AND"), ("kw", "OR")):
            ops.append(self.take()[1])
            args.append(self.term())
        if not ops:
            return first
        if len(set(ops)) > 1:
            raise SoqlError("MALFORMED_QUERY", "unexpected token: mixing AND and OR needs parentheses")
        return Logic(ops[0], tuple(args))

    def term(self) -> Any:
        if self.accept("kw", "NOT"):
            return Logic("NOT", (self.term(),))
        if self.accept("op", "("):
            inner = self.cond()
            self.expect("op", ")")
            return inner
        name = self.expect("ident")
        k, v = self.take()
        if k == "op" and v in OPS:
            return Cmp(name, "!=" if v == "<>" else v, self.value())
        if (k, v) == ("kw", "NOT"):
            self.expect("kw", "IN")
            return Cmp(name, "NOT IN", self.values())
        if k == "kw" and v in ("IN", "INCLUDES", "EXCLUDES"):
            return Cmp(name, v, self.values())
        if (k, v) == ("kw", "LIKE"):
            return Cmp(name, "LIKE", self.expect("str"))
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: {v!r} after {name}")

    def values(self) -> tuple[Any, ...]:
        self.expect("op", "(")
        out = [self.value()]
        while self.accept("op", ","):
            out.append(self.value())
        self.expect("op", ")")
        return tuple(out)

    def value(self) -> Any:
        k, v = self.take()
        if k in ("str", "num", "d", "dt"):
            return v
        if k == "kw" and v in ("TRUE", "FALSE"):
            return v == "TRUE"
        if k == "kw" and v == "NULL":
            return None
        if k == "ident" and v.upper() in RELATIVE:
            if v.upper().endswith("_N_DAYS"):
                self.expect("op", ":")
                return Relative(v.upper(), int(self.expect("num")))
            return Relative(v.upper())
        raise SoqlError("MALFORMED_QUERY", f"unexpected value: {v!r}")


def parse(text: str) -> Query:
    """Parse one SOQL query; raise ``SoqlError('MALFORMED_QUERY', ...)`` when it is not SOQL."""
    return _Parser(text).query()
