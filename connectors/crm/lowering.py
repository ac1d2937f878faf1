"""Lower a SQL predicate to an API filter language, keeping SQL's NULL semantics.

APIs disagree with SQL about NULL: SOQL treats null as a value (``Email != 'x'``
returns null emails; on booleans null matches FALSE), and ``NOT`` in an API is
two-valued. So the predicate is first put in negation normal form: ``NOT`` is pushed
down to the atoms by De Morgan, and a negated atom becomes its complement *with an
explicit not-null guard* (``x != v AND x != null``). A row the API returns is then a
row on which the SQL predicate is TRUE, whatever the API's own null rules are.

A dialect renders atoms. It returns None when it cannot (the whole conjunct is then
unsupported) and says whether its rendering is exact or a superset (inexact, e.g. a
case-insensitive string match). A superset survives AND/OR, so the conjunct is
inexact as soon as one atom is; never a subset: negated case-insensitive atoms are
refused by the dialects.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Protocol

from sqlglot import exp

from connectors.crm.predicates import _NEGATE, Comparison, atom


@dataclass(frozen=True)
class Rendered:
    text: str
    exact: bool


class Dialect(Protocol):
    def atom(self, c: Comparison) -> Rendered | None: ...

    def join(self, op: str, parts: list[str]) -> str: ...

    def is_bool(self, column: str) -> bool: ...


def lower(e: exp.Expression, dialect: Dialect, negated: bool = False) -> Rendered | None:
    """The API filter for ``e`` (or for ``NOT e`` when ``negated``), or None."""
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, exp.Not):
        return lower(e.this, dialect, not negated)
    if e.args.get("negate"):
        # sqlglot 30 parses `x IS NOT NULL` / `x NOT LIKE p` as Is/Like with negate=True
        plain = e.copy()
        plain.set("negate", None)
        return lower(plain, dialect, not negated)
    if isinstance(e, (exp.And, exp.Or)):
        is_and = isinstance(e, exp.And) != negated  # De Morgan
        parts = [lower(p, dialect, negated) for p in _flatten(e, type(e))]
        if any(p is None for p in parts):
            return None
        return Rendered(dialect.join("and" if is_and else "or", [p.text for p in parts if p]),
                        all(p.exact for p in parts if p))
    if isinstance(e, exp.Column) and not e.table and dialect.is_bool(e.name):
        c: Comparison | None = Comparison(e.name, "=", (True,))
    elif isinstance(e, exp.Boolean):
        return None
    else:
        c = atom(e)
    if c is None:
        return None
    if negated:
        c = Comparison(c.column, _NEGATE[c.op], c.values, c.case_insensitive)  # type: ignore[arg-type]
    return dialect.atom(c)


def _flatten(e: exp.Expression, kind: type) -> list[exp.Expression]:
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, kind):
        return _flatten(e.left, kind) + _flatten(e.right, kind)
    return [e]


def classify(e: exp.Expression, dialect: Dialect) -> str:
    """'exact' | 'inexact' | 'unsupported' for one conjunct."""
    try:
        r = lower(e, dialect)
    except (ValueError, TypeError):
        return "unsupported"
    if r is None:
        return "unsupported"
    return "exact" if r.exact else "inexact"


def value_kind(v: Any) -> str:
    import datetime as dt

    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, dt.datetime):
        return "datetime"
    if isinstance(v, dt.date):
        return "date"
    if isinstance(v, str):
        return "string"
    return "other"


def split_in_lists(filters: list[exp.Expression], fits: Callable[[list[exp.Expression]], bool]) -> list[list[exp.Expression]]:
    """Filter sets whose longest IN list is cut into disjoint chunks, each set ``fits``.

    Values equal ignoring case stay in one chunk (APIs match text ignoring case), so
    no row comes back twice. Raises ValueError when there is no IN list to cut."""
    ins = [(i, a) for i, f in enumerate(filters) if (a := atom(f)) is not None and a.op == "in"]
    if not ins:
        raise ValueError("no IN list to split")
    i, a = max(ins, key=lambda x: len(x[1].values))
    groups: dict[Any, list[Any]] = {}
    for v in a.values:
        groups.setdefault(v.casefold() if isinstance(v, str) else v, []).append(v)
    out: list[list[exp.Expression]] = []
    pending = [list(groups.values())]
    while pending:
        chunk = pending.pop()
        fs = filters[:i] + [in_expr(a.column, [v for g in chunk for v in g])] + filters[i + 1:]
        if fits(fs) or len(chunk) == 1:
            out.append(fs)
        else:
            pending += [chunk[len(chunk) // 2:], chunk[: len(chunk) // 2]]
    return out


def in_expr(column: str, values: list[Any]) -> exp.Expression:
    """``column IN (values)`` as an AST (values become literals through sqlglot)."""
    return exp.In(this=exp.column(column, quoted=True), expressions=[_lit(v) for v in values])


def _lit(v: Any) -> exp.Expression:
    import datetime as dt

    if isinstance(v, bool):
        return exp.Boolean(this=v)
    if isinstance(v, (int, float)):
        return exp.Literal.number(v)
    if isinstance(v, dt.datetime):
        return exp.Cast(this=exp.Literal.string(v.isoformat()), to=exp.DataType.build("TIMESTAMPTZ"))
    if isinstance(v, dt.date):
        return exp.Cast(this=exp.Literal.string(v.isoformat()), to=exp.DataType.build("DATE"))
    return exp.Literal.string(str(v))
