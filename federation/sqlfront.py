"""The SQL front end: parse one read-only query, bind parameters, report positions.

Everything that reaches a source later is generated from the AST this module
returns, so user text never travels as SQL strings (ENGINE-NOTES: builder methods
parse raw strings; multi-statement input parses as a Block).
"""

from __future__ import annotations

from collections.abc import Mapping
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
            "Uncache", "Describe", "Into",
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
        if isinstance(node, exp.Table) and node.args.get("db") is not None:
            dmeta = node.args["db"].meta or {}
            start = int(dmeta.get("start", start))
        return offset_to_position(sql, start), end - start + 1
    if "line" in meta and "col" in meta:
        return (int(meta["line"]), int(meta["col"])), 1
    return None


def parse_query(sql: str, dialect: str = "postgres") -> exp.Query:
    """Parse exactly one read-only query; raise QueryError / NotReadOnlyError otherwise."""
    if not sql or not sql.strip():
        raise QueryError("the query is empty", hint="Write a SELECT statement.")
    try:
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
    except (ValueError, RecursionError) as e:  # sqlglot raises these on a few odd inputs
        raise QueryError(f"syntax error: {e}") from None
    if len(statements) != 1:
        raise NotReadOnlyError(
            f"expected exactly one query, got {len(statements)} statements",
            hint="Run one SELECT at a time.",
        )
    stmt = statements[0]
    if not isinstance(stmt, exp.Query):
        kind = type(stmt).__name__.upper()
        raise NotReadOnlyError(
            f"only queries are allowed; this is a {kind} statement",
            hint="fedcdp only reads: write a SELECT (sources are never modified).",
        )
    bad = next((n for n in stmt.walk() if isinstance(n, _WRITES)), None)
    if bad is not None:
        raise NotReadOnlyError(
            f"the query contains a {type(bad).__name__.upper()}, which would write; fedcdp only reads",
            hint="Remove the data-modifying part (e.g. a DELETE inside WITH).",
        )
    return stmt


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
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


def bind_params(query: exp.Query, params: Mapping[str, Any] | None, sql: str) -> exp.Query:
    """Replace ``:name`` placeholders by sqlglot literals (never by string formatting)."""
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

    return query.transform(repl, copy=True)  # type: ignore[return-value]
