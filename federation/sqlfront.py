"""The SQL front end: parse one read-only query, bind parameters, report positions.

Everything that reaches a source later is generated from the AST this module
returns, so user text never travels as SQL strings (ENGINE-NOTES: builder methods
parse raw strings; multi-statement input parses as a Block).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from federation.errors import NotReadOnlyError, QueryError

# Node types that write or change state; none may appear anywhere in a query.
_WRITES: tuple[type[exp.Expression], ...] = tuple(
    t
    for t in (
        getattr(exp, n, None)
        for n in (
            "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "AlterTable",
            "TruncateTable", "Command", "Copy", "Grant", "Revoke", "Transaction", "Commit",
            "Rollback", "Set", "Use", "Pragma", "LoadData", "Analyze", "Refresh", "Cache",
            "Uncache", "Describe", "Into", "Lock",
        )
    )
    if isinstance(t, type)
)


def offset_to_position(sql: str, offset: int) -> tuple[int, int]:
    """Character offset → (line, col), both 1-based."""
    offset = max(0, min(offset, len(sql)))
    line = sql.count("\n", 0, offset) + 1
    col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, col


def node_position(sql: str, node: exp.Expression) -> tuple[tuple[int, int], int] | None:
    """Where a parsed node (column, table, identifier) sits in ``sql``: (position, length)."""
    target = node.this if isinstance(node, (exp.Column, exp.Table)) and isinstance(node.this, exp.Expression) else node
    meta = getattr(target, "meta", None) or {}
    if "start" in meta and "end" in meta:
        start, end = int(meta["start"]), int(meta["end"])
        db = node.args.get("db") if isinstance(node, exp.Table) else None
        if isinstance(db, exp.Expression):  # 'shop..t' parses with db = '' (a str)
            dmeta = db.meta or {}
            start = int(dmeta.get("start", start))
        return offset_to_position(sql, start), end - start + 1
    if "line" in meta and "col" in meta:
        return (int(meta["line"]), int(meta["col"])), 1
    return None


# Deeper trees make sqlglot's recursive optimizer slow or overflow the stack; a
# real query (TPC-H included) stays far below this.
MAX_DEPTH = 256


def _too_deep() -> QueryError:
    return QueryError(
        f"the query is nested too deeply (more than {MAX_DEPTH} levels of expressions or subqueries)",
        hint="Flatten it: use IN (...) instead of long OR chains, CTEs instead of nested subqueries.",
    )


def _depth_and_writes(root: exp.Expression) -> tuple[int, bool]:
    """Depth of the tree, computed without recursion (the tree may be thousands deep),
    and whether any node writes: one pass over the tree, not two."""
    deepest, writes, stack = 0, False, [(root, 1)]
    while stack:
        node, d = stack.pop()
        if d > deepest:
            deepest = d
        if not writes and isinstance(node, _WRITES):
            writes = True
        stack.extend((child, d + 1) for child in node.iter_expressions())
    return deepest, writes


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs "'<the SQL>' contains unsupported syntax" on statements it parses
    as a Command: the CLI printed it above our own error, with the user's SQL in it."""
    log = logging.getLogger("sqlglot")
    old = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(old)


def parse_query(sql: str, dialect: str = "postgres") -> exp.Query:
    """Parse exactly one read-only query; raise QueryError / NotReadOnlyError otherwise."""
    if not sql or not sql.strip():
        raise QueryError("the query is empty", hint="Write a SELECT statement.")
    try:
        with _quiet_sqlglot():
            statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as e:
        err = e.errors[0] if e.errors else {}
        pos = (err.get("line") or 1, err.get("col") or 1)
        highlight = err.get("highlight") or ""
        start = (pos[0], max(1, pos[1] - len(highlight) + 1)) if highlight else pos
        desc = err.get("description") or str(e)
        raise QueryError(f"syntax error: {desc}", sql=sql, position=start, length=len(highlight) or 1) from None
    except TokenError as e:
        raise QueryError(f"syntax error: {e}", hint="Check quotes and brackets.") from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError as e:  # sqlglot raises this on a few odd inputs
        raise QueryError(f"syntax error: {e}") from None
    if len(statements) != 1:
        raise NotReadOnlyError(
            f"expected exactly one query, got {len(statements)} statements",
            hint="Run one SELECT at a time.",
        )
    stmt = statements[0]
    if not isinstance(stmt, exp.Query):
        # the user's own first word: sqlglot's class names (COMMAND, ALIAS) mean nothing to them
        kind = (sql.strip().split() or ["?"])[0].upper().strip("(;")[:20]
        raise NotReadOnlyError(
            f"only queries are allowed; this is {'an' if kind[:1] in 'AEIOU' else 'a'} {kind} statement",
            hint="fedcdp only reads: write a SELECT (sources are never modified).",
        )
    depth, writes = _depth_and_writes(stmt)
    if depth > MAX_DEPTH:
        raise _too_deep()
    # the first writing node in walk() order names the error
    bad = next((n for n in stmt.walk() if isinstance(n, _WRITES)), None) if writes else None
    if bad is not None:
        kind = {"Lock": "FOR UPDATE/SHARE lock", "TruncateTable": "TRUNCATE"}.get(type(bad).__name__, type(bad).__name__.upper())
        raise NotReadOnlyError(
            f"the query contains {'an' if kind[:1] in 'AEIOU' else 'a'} {kind}, which would write; fedcdp only reads",
            hint="Remove the data-modifying part (e.g. a DELETE inside WITH).",
        )
    _check_shape(stmt, sql)
    return stmt


_CONDITIONS = (exp.Where, exp.Having, exp.Qualify, exp.Order, exp.Group, exp.Join)


def _check_shape(stmt: exp.Query, sql: str) -> None:
    """Reject trees sqlglot parses leniently but no source accepts (found by fuzzing):
    a function missing a required argument (``floor()``), an alias inside a
    condition (``WHERE (a = 1 "x")``), ``x IN 1000`` without brackets."""
    for node in list(stmt.walk()):
        if isinstance(node, exp.Literal) and node.is_string and "\x00" in node.this:
            raise _nul_error(sql)
        if isinstance(node, exp.Select) and not node.expressions:
            if isinstance(node.parent, exp.Exists) or isinstance(node.parent, exp.Subquery) \
                    and isinstance(node.parent.parent, exp.Exists):
                node.set("expressions", [exp.Literal.number(1)])  # PostgreSQL's EXISTS (SELECT FROM ...)
                continue
            raise QueryError("syntax error: a SELECT needs at least one column", sql=sql,
                             hint="List the columns to return, or write SELECT *.")
        if isinstance(node, exp.Func) and not isinstance(node, exp.Anonymous):
            problems = node.error_messages()
            if problems:
                name = node.sql_name() if hasattr(node, "sql_name") else type(node).__name__.upper()
                raise QueryError(f"syntax error: {name}() is missing an argument", sql=sql,
                                 position=_where(sql, node), hint="Check the function's arguments.")
        elif isinstance(node, exp.Alias) and _in_condition(node):
            raise QueryError(f"syntax error: an alias (AS {node.alias}) is only allowed in the select list",
                             sql=sql, position=_where(sql, node.args.get("alias") or node))
        elif isinstance(node, exp.In) and not node.expressions and node.args.get("query") is None \
                and node.args.get("field") is None and node.args.get("unnest") is None:
            raise QueryError("syntax error: IN () needs at least one value", sql=sql, position=_where(sql, node.this))
        elif isinstance(node, exp.Is) and not isinstance(node.expression, (exp.Null, exp.Boolean)):
            raise QueryError("syntax error: IS takes NULL, TRUE or FALSE (or use IS DISTINCT FROM)", sql=sql,
                             position=_where(sql, node.this))
        elif isinstance(node, exp.In) and node.args.get("field") is not None \
                and not isinstance(node.args["field"], (exp.Unnest, exp.Subquery, exp.Query)):
            raise QueryError("syntax error: IN needs a bracketed list or a subquery, e.g. x IN (1, 2)",
                             sql=sql, position=_where(sql, node.args["field"]))


def _nul_error(sql: str | None = None) -> QueryError:
    # drivers pass SQL as C strings: a NUL cut the statement (SQLite: "unrecognized
    # token"), and PostgreSQL text cannot hold one at all
    return QueryError("text values cannot contain a NUL character (\\x00)", sql=sql,
                      hint="Remove the NUL from the value.")


def _in_condition(node: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Query):
        if isinstance(parent, _CONDITIONS):
            return True
        parent = parent.parent
    return False


def _where(sql: str, node: exp.Expression) -> tuple[int, int] | None:
    found = node_position(sql, node)
    return found[0] if found else None


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if "\x00" in str(value):
        raise _nul_error()
    return exp.Literal.string(str(value))


def parse_param_value(text: str) -> Any:
    """``--param`` values: ints, floats, true/false/null, else text."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def bind_params(query: exp.Query, params: Mapping[str, Any] | None, sql: str, copy: bool = True) -> exp.Query:
    """Replace ``:name`` placeholders by sqlglot literals (never by string formatting).

    ``copy=False`` replaces them in ``query`` itself (the planner's own parsed tree)."""
    params = {k.lower(): v for k, v in (params or {}).items()}
    used: set[str] = set()

    def repl(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            name = str(node.name or "").lower()
            if not name:
                raise QueryError("positional placeholders ('?') are not supported; use :name", sql=sql)
            if name not in params:
                raise QueryError(
                    f"query parameter ':{name}' has no value",
                    hint=f"Pass it with --param {name}=VALUE (or params={{'{name}': ...}}).",
                )
            used.add(name)
            return _literal(params[name])
        if isinstance(node, exp.Parameter):
            raise QueryError("'$n' parameters are not supported; use :name placeholders", sql=sql)
        return node

    return query.transform(repl, copy=copy)  # type: ignore[return-value]
