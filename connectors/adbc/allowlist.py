"""Per dialect: the sqlglot nodes a source executes with PostgreSQL's semantics.

A query or predicate is pushed only when every node in it is on its dialect's
list (and passes the node's type check). What sqlglot can *generate* for a
dialect is not proof the source runs it the same way: for SQLite sqlglot emits
TIMESTAMP_TRUNC, EXTRACT and REGEXP (which fail there), MAX(a, b) for GREATEST
(NULL-propagating, unlike PostgreSQL), and LOWER/UPPER fold only ASCII.
Anything not listed runs in Arrow instead, which costs speed, never rows.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

T = exp.DataType.Type
INTEGERS = {T.TINYINT, T.SMALLINT, T.INT, T.BIGINT}
NUMBERS = INTEGERS | {T.FLOAT, T.DOUBLE, T.DECIMAL}
TEXTS = {T.TEXT, T.VARCHAR, T.CHAR}
TEMPORAL = {T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ, T.DATETIME, T.TIME}

# Shape of a query: clauses, references, literals.
STRUCTURE: frozenset[type] = frozenset({
    exp.Select, exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered,
    exp.Limit, exp.Offset, exp.Column, exp.Identifier, exp.Table, exp.TableAlias, exp.Alias,
    exp.Subquery, exp.Paren, exp.Literal, exp.Boolean, exp.Null, exp.Distinct, exp.With, exp.CTE,
    exp.Union, exp.Intersect, exp.Except, exp.Exists, exp.DataType, exp.Star,
})

# Operators and functions with the same meaning on SQLite and PostgreSQL (for the
# types the checks below allow).
PORTABLE: frozenset[type] = frozenset({
    exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is, exp.In,
    exp.Between, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
    exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Cast, exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max,
    exp.Abs, exp.Length, exp.Trim, exp.Substring, exp.Replace, exp.DPipe, exp.Like,
})

# Window functions (SQLite >= 3.25): standard frames and ranking; sqlglot writes NULLS FIRST/LAST
# explicitly wherever PostgreSQL's default differs from SQLite's.
WINDOWS: frozenset[type] = frozenset({
    exp.Window, exp.WindowSpec, exp.RowNumber, exp.Rank, exp.DenseRank, exp.Lag, exp.Lead, exp.FirstValue,
    exp.LastValue, exp.Ntile, exp.PercentRank, exp.CumeDist, exp.Var,
})

SQLITE: frozenset[type] = STRUCTURE | PORTABLE | WINDOWS

POSTGRES: frozenset[type] = STRUCTURE | PORTABLE | frozenset({
    exp.ILike, exp.Upper, exp.Lower, exp.Concat, exp.Greatest, exp.Least, exp.Round, exp.Floor, exp.Ceil,
    exp.Extract, exp.TimestampTrunc, exp.DateTrunc, exp.Interval, exp.Var, exp.Window, exp.WindowSpec,
    exp.RowNumber, exp.Rank, exp.DenseRank, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue,
    exp.NthValue, exp.PercentRank, exp.CumeDist, exp.Ntile, exp.StddevSamp, exp.StddevPop, exp.VariancePop,
    exp.Variance, exp.LogicalAnd, exp.LogicalOr, exp.Stddev, exp.Left, exp.Right, exp.StrPosition, exp.Pad, exp.Initcap,
    exp.CurrentDate, exp.CurrentTimestamp, exp.Sign, exp.Sqrt, exp.Ln, exp.Exp, exp.Pow, exp.IntDiv,
    exp.ArrayAgg, exp.StringToArray, exp.Array, exp.ArrayContains, exp.Any, exp.ToChar, exp.Date,
    exp.TsOrDsToDate, exp.DateAdd, exp.DateSub, exp.RegexpLike, exp.Quarter, exp.Year, exp.Month, exp.Day,
    exp.Dot, exp.Bracket, exp.GroupConcat, exp.Filter, exp.BitwiseAnd, exp.BitwiseOr, exp.Escape,
    exp.SimilarTo, exp.Unnest, exp.Anonymous,
})

# Functions PostgreSQL reaches through exp.Anonymous: checked by name.
POSTGRES_FUNCTIONS = frozenset({
    "md5", "btrim", "ltrim", "rtrim", "split_part", "char_length", "octet_length", "repeat", "reverse",
    "date_part", "age", "to_date", "to_timestamp", "now", "regexp_replace", "translate", "starts_with",
    "lower", "upper", "coalesce", "abs", "mod", "trunc", "random",
})

# Other ADBC dialects: structure and portable operators, but not division (DuckDB divides
# integers as floats) until someone verifies more.
DEFAULT: frozenset[type] = STRUCTURE | (PORTABLE - {exp.Div, exp.Mod, exp.Cast, exp.DPipe, exp.Like})

DIALECTS: dict[str, frozenset[type]] = {"sqlite": SQLITE, "postgres": POSTGRES}


def _kind(node: exp.Expression | None) -> T | None:
    t = getattr(node, "type", None)
    return t.this if isinstance(t, exp.DataType) else None


def _sqlite_cast(node: exp.Cast) -> bool:
    # CAST(real AS INTEGER) truncates in SQLite and rounds in PostgreSQL; real → text prints differently
    src, dst = _kind(node.this), node.to.this
    if isinstance(node.this, exp.Literal):
        return dst in TEXTS | NUMBERS
    if dst in INTEGERS:
        return src in INTEGERS
    if dst in {T.FLOAT, T.DOUBLE}:
        return src in NUMBERS
    if dst in TEXTS:
        return src in INTEGERS | TEXTS
    return False


def _numeric_operands(node: exp.Expression) -> bool:
    # SQLite's % casts reals to integers; PostgreSQL has no float %: integers only
    return all(_kind(a) in INTEGERS for a in (node.this, node.expression))


def _pg_round(node: exp.Round) -> bool:
    # round(double, n) does not exist in PostgreSQL; sqlglot keeps the call as written
    return node.args.get("decimals") is None or _kind(node.this) == T.DECIMAL


def _positive_start(node: exp.Substring) -> bool:
    # substr() counts a negative start from the end in SQLite, from before the start in PostgreSQL
    start = node.args.get("start")
    return start is None or (isinstance(start, exp.Literal) and not start.is_string and int(float(start.this)) >= 1)


CHECKS: dict[str, dict[type, Callable[[exp.Expression], bool]]] = {
    "sqlite": {exp.Cast: _sqlite_cast, exp.Mod: _numeric_operands, exp.Substring: _positive_start},  # type: ignore[dict-item]
    "postgres": {exp.Round: _pg_round},  # type: ignore[dict-item]
}


def disallowed(node: exp.Expression, dialect: str) -> exp.Expression | None:
    """The first node of ``node`` its dialect is not known to run with PostgreSQL's meaning."""
    allowed = DIALECTS.get(dialect, DEFAULT)
    checks = CHECKS.get(dialect, {})
    for n in node.walk():
        if type(n) not in allowed:
            return n
        if isinstance(n, exp.Star) and not isinstance(n.parent, exp.Count):
            return n  # SELECT * would need the native column list: the planner expands it
        if isinstance(n, exp.Anonymous) and n.name.lower() not in POSTGRES_FUNCTIONS:
            return n
        check = checks.get(type(n))
        if check is not None and not check(n):
            return n
    return None
