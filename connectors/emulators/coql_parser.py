"""Parse Zoho COQL (CRM-PROTOCOLS 4.2) into a small AST, enforcing its rules.

Grammar accepted (keywords in any case)::

    SELECT item, ... FROM Module [WHERE cond] [GROUP BY f, ...]
        [ORDER BY f [ASC|DESC], ...] [LIMIT n [OFFSET m] | LIMIT m, n]
    item  := field | SUM|MAX|MIN|AVG|COUNT '(' field | '*' ')' [AS alias]
    cond  := term [(AND|OR) term]           -- at most ONE operator per bracket level
    term  := '(' cond ')' | field op value | field [NOT] IN (values)
           | field IS [NOT] NULL | field BETWEEN v AND v | field [NOT] LIKE 'text'
    field := name ['.' name]*                -- lookup paths such as Account_Name.id

``A and B and C`` without brackets is a SYNTAX_ERROR (Zoho demands ``(A and B) and C``).
Errors are ``CoqlError(code, message, details)`` with ``details = {line, column, near}``
for syntax errors, mirroring Zoho's error body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

AGGS = ("SUM", "MAX", "MIN", "AVG", "COUNT")
COMPARATORS = ("=", "!=", "<", "<=", ">", ">=")


class CoqlError(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}


@dataclass(frozen=True)
class Tok:
    kind: str  # name, str, num, op, punct, end
    text: str
    pos: int
    value: Any = None


@dataclass(frozen=True)
class Item:
    func: str | None  # None for a plain field
    field: str  # "*" for COUNT(*)
    alias: str | None = None

    @property
    def label(self) -> str:
        if self.alias:
            return self.alias
        return self.field if self.func is None else f"{self.func}({self.field})"


@dataclass(frozen=True)
class Crit:
    field: str
    op: str  # = != < <= > >= in not_in is_null not_null between like not_like
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Logic:
    op: str  # and | or
    left: Crit | Logic
    right: Crit | Logic


@dataclass
class Query:
    items: list[Item]
    module: str
    where: Crit | Logic | None = None
    group_by: list[str] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, desc)
    limit: int | None = None
    offset: int = 0


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|<>|[=<>])"
    r"|(?P<punct>[(),.*])|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*))"
)


def tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            out.append(Tok("end", "", pos))
            return out
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _syntax(text, pos, text[pos: pos + 10])
        kind = m.lastgroup or "end"
        raw = m.group(kind)
        start = m.start(kind)
        value: Any = None
        if kind == "str":
            value = raw[1:-1].replace("''", "'")
        elif kind == "num":
            value = float(raw) if "." in raw else int(raw)
        elif kind == "op" and raw == "<>":
            raw = "!="
        out.append(Tok(kind, raw, start, value))
        pos = m.end()


def _syntax(text: str, pos: int, near: str) -> CoqlError:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return CoqlError("SYNTAX_ERROR", f"error occured while parsing the query near {near!r}",
                     {"line": line, "column": column, "near": near})


class _Parser:
    def __init__(self, text: str, require_where: bool) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.require_where = require_where

    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def kw(self, *words: str) -> bool:
        t = self.peek()
        return t.kind == "name" and t.text.lower() in words

    def take(self) -> Tok:
        t = self.peek()
        self.i += 1
        return t

    def fail(self, tok: Tok | None = None) -> CoqlError:
        t = tok or self.peek()
        return _syntax(self.text, t.pos, t.text or "<end of query>")

    def expect_kw(self, word: str) -> None:
        if not self.kw(word):
            raise self.fail()
        self.take()

    def expect(self, text: str) -> None:
        if self.peek().text != text:
            raise self.fail()
        self.take()

    def int_value(self) -> int:
        t = self.take()
        if t.kind != "num" or not isinstance(t.value, int) or t.value < 0:
            raise self.fail(t)
        return t.value

    def field_name(self) -> str:
        t = self.take()
        if t.kind != "name":
            raise self.fail(t)
        parts = [t.text]
        while self.peek().text == ".":
            self.take()
            n = self.take()
            if n.kind != "name":
                raise self.fail(n)
            parts.append(n.text)
        return ".".join(parts)

    def query(self) -> Query:
        self.expect_kw("select")
        items = [self.item()]
        while self.peek().text == ",":
            self.take()
            items.append(self.item())
        self.expect_kw("from")
        module = self.field_name()
        q = Query(items, module)
        if self.kw("where"):
            self.take()
            q.where = self.cond()
        elif self.require_where:
            raise CoqlError("SYNTAX_ERROR", "WHERE clause is missing in the query",
                            {"line": 1, "column": self.peek().pos + 1, "near": self.peek().text or "<end of query>"})
        if self.kw("group"):
            self.take()
            self.expect_kw("by")
            q.group_by = self.names()
        if self.kw("order"):
            self.take()
            self.expect_kw("by")
            q.order_by = self.order_items()
        if self.kw("limit"):
            self.take()
            first = self.int_value()
            if self.peek().text == ",":
                self.take()
                q.offset, q.limit = first, self.int_value()
            else:
                q.limit = first
        if self.kw("offset"):
            self.take()
            q.offset = self.int_value()
        if self.peek().kind != "end":
            raise self.fail()
        return q

    def names(self) -> list[str]:
        out = [self.field_name()]
        while self.peek().text == ",":
            self.take()
            out.append(self.field_name())
        return out

    def order_items(self) -> list[tuple[str, bool]]:
        out = []
        while True:
            name = self.field_name()
            desc = False
            if self.kw("asc", "desc"):
                desc = self.take().text.lower() == "desc"
            out.append((name, desc))
            if self.peek().text != ",":
                return out
            self.take()

    def item(self) -> Item:
        t = self.peek()
        if t.kind == "name" and t.text.upper() in AGGS and self.peek(1).text == "(":
            self.take()
            self.take()
            if self.peek().text == "*":
                self.take()
                fname = "*"
            else:
                fname = self.field_name()
            self.expect(")")
            it = Item(t.text.upper(), fname)
        else:
            it = Item(None, self.field_name())
        if self.kw("as"):
            self.take()
            a = self.take()
            if a.kind != "name":
                raise self.fail(a)
            it = Item(it.func, it.field, a.text)
        return it

    def cond(self) -> Crit | Logic:
        left = self.term()
        if self.kw("and", "or"):
            op = self.take().text.lower()
            right = self.term()
            if self.kw("and", "or"):
                raise self.fail()  # a third criterion needs its own brackets
            return Logic(op, left, right)
        return left

    def term(self) -> Crit | Logic:
        if self.peek().text == "(":
            self.take()
            inner = self.cond()
            self.expect(")")
            return inner
        return self.crit()

    def value(self) -> Any:
        t = self.take()
        if t.kind in ("str", "num"):
            return t.value
        if t.kind == "name" and t.text.lower() in ("true", "false"):
            return t.text.lower() == "true"
        raise self.fail(t)

    def crit(self) -> Crit:
        name = self.field_name()
        t = self.peek()
        if t.kind == "op":
            self.take()
            return Crit(name, t.text, (self.value(),))
        negate = False
        if self.kw("not"):
            self.take()
            negate = True
        if self.kw("in"):
            self.take()
            self.expect("(")
            vals = [self.value()]
            while self.peek().text == ",":
                self.take()
                vals.append(self.value())
            self.expect(")")
            return Crit(name, "not_in" if negate else "in", tuple(vals))
        if self.kw("like"):
            self.take()
            v = self.take()
            if v.kind != "str":
                raise self.fail(v)
            return Crit(name, "not_like" if negate else "like", (v.value,))
        if negate:
            raise self.fail()
        if self.kw("is"):
            self.take()
            neg = False
            if self.kw("not"):
                self.take()
                neg = True
            self.expect_kw("null")
            return Crit(name, "not_null" if neg else "is_null")
        if self.kw("between"):
            self.take()
            lo = self.value()
            self.expect_kw("and")
            return Crit(name, "between", (lo, self.value()))
        raise self.fail()


def count_criteria(node: Crit | Logic | None) -> int:
    if node is None:
        return 0
    if isinstance(node, Crit):
        return 1
    return count_criteria(node.left) + count_criteria(node.right)


def criteria(node: Crit | Logic | None) -> list[Crit]:
    if node is None:
        return []
    if isinstance(node, Crit):
        return [node]
    return criteria(node.left) + criteria(node.right)


def parse(text: str, *, require_where: bool = True, max_criteria: int = 25, max_in: int = 100) -> Query:
    """Parse and check the documented limits (criteria, IN values, ORDER BY, GROUP BY)."""
    q = _Parser(text, require_where).query()
    if count_criteria(q.where) > max_criteria:
        raise CoqlError("LIMIT_EXCEEDED", f"the WHERE clause can have at most {max_criteria} criteria",
                        {"limit": max_criteria})
    for c in criteria(q.where):
        if c.op in ("in", "not_in") and len(c.values) > max_in:
            raise CoqlError("LIMIT_EXCEEDED", f"an IN list can have at most {max_in} values", {"limit": max_in})
    if len(q.order_by) > 10:
        raise CoqlError("LIMIT_EXCEEDED", "ORDER BY can have at most 10 fields", {"limit": 10})
    if len(q.group_by) > 4:
        raise CoqlError("LIMIT_EXCEEDED", "GROUP BY can have at most 4 fields", {"limit": 4})
    if sum(1 for it in q.items if it.func) > 5:
        raise CoqlError("LIMIT_EXCEEDED", "at most 5 aggregate fields are allowed", {"limit": 5})
    for what, names in (("ORDER BY", [n for n, _ in q.order_by]), ("GROUP BY", q.group_by)):
        if len({n.lower() for n in names}) != len(names):
            raise CoqlError("DUPLICATE_DATA", f"duplicate field in {what}")
    return q
