"""The Arrow executor: runs the residual query of a plan over fragment results.

>>> execute(optimized_query, {"__f0": table0, "__f1": table1})   # -> pa.Table

The query is a sqlglot AST that went through ``sqlglot.optimizer.optimize``
(qualified columns, aliased projections). Semantics are PostgreSQL's (SPEC.md):
three-valued logic, integer division truncating toward zero, NULLs sorting as
the largest value, division by zero an error. A construct the executor does
not implement raises ``UnsupportedError``; bad types raise ``QueryError``.

Covered: joins of every kind (Acero hash joins on the equi-keys, the other ON
conjuncts applied to the matched pairs), WHERE, GROUP BY / HAVING with hash
aggregates (FILTER, DISTINCT, STRING_AGG ... ORDER BY), windows (ranking, LAG/LEAD,
FIRST/LAST_VALUE, running and ROWS-framed SUM/COUNT/AVG, MIN/MAX), DISTINCT [ON],
ORDER BY / LIMIT / OFFSET / FETCH, UNION / INTERSECT / EXCEPT [ALL], CTEs,
uncorrelated IN / EXISTS / scalar / ANY / ALL subqueries, and PostgreSQL's common
scalar functions (text, math, dates, intervals, casts).

Modules: ``select`` (query pipeline), ``joins``, ``aggregate``, ``window``,
``setops``, ``expressions`` (evaluator core and logic), ``arithmetic``,
``functions`` (CASE, CAST, math), ``text``, ``temporal``, ``subqueries``,
``sorting``, ``types`` (input normalisation and coercion), ``relation``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from federation.errors import CdpError, QueryError, UnsupportedError

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

__all__ = ["execute", "evaluate", "evaluate_predicate"]

R = TypeVar("R")


def _guard(fn: Callable[[], R]) -> R:
    """Map engine failures to fedcdp errors: never a raw Python or Arrow exception."""
    import pyarrow as pa

    try:
        return fn()
    except CdpError:
        raise
    except pa.ArrowInvalid as e:
        text = _redact(str(e))
        if "divide by zero" in text:
            raise QueryError("division by zero") from None
        if "overflow" in text.lower():
            raise QueryError(f"value out of range: {text}") from None
        raise QueryError(f"invalid value in the query: {text}") from None
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
        raise QueryError(f"operation not supported for these types: {_redact(str(e))}",
                         hint="Check the column types; add an explicit CAST.") from None
    except RecursionError:
        raise UnsupportedError("an expression nested too deeply") from None
    except Exception as e:  # an executor bug must not reach the user as a traceback
        raise UnsupportedError(f"the Arrow executor failed on this query ({type(e).__name__}: "
                               f"{_redact(str(e))})") from e


def _redact(text: str) -> str:
    """Arrow quotes offending values; they may be customer data, which errors never show."""
    import re

    return re.sub(r"'[^']*'", "'...'", text.splitlines()[0] if text else text)[:300]


def execute(query: exp.Expression, tables: Mapping[str, pa.Table]) -> pa.Table:
    """Run an optimized query over named Arrow tables; output names are the SELECT aliases."""
    from federation.execute.relation import Context
    from federation.execute.select import run_query
    from federation.execute.types import norm_table

    return _guard(lambda: norm_table(run_query(query, Context(tables))))


def evaluate(expr: exp.Expression, table: pa.Table) -> pa.Array:
    """Evaluate a scalar expression over ``table``; column refs match its column names
    (a qualifier, if any, is ignored). Always returns an array of ``table.num_rows``."""
    from federation.execute.expressions import Evaluator, broadcast, flat
    from federation.execute.relation import Context, Relation
    from federation.execute.types import norm_table

    def run() -> pa.Array:
        rel = Relation.of(norm_table(table), None)
        ev = Evaluator(rel, Context({}))
        return flat(broadcast(ev.eval(_unqualify(expr)), table.num_rows))

    return _guard(run)


def evaluate_predicate(expr: exp.Expression, table: pa.Table) -> pa.Array:
    """A boolean mask for ``expr`` over ``table``: NULL and FALSE are both false
    (not selected). Use it to re-check inexact filters on fragment results."""
    from federation.execute.expressions import Evaluator, flat
    from federation.execute.relation import Context, Relation
    from federation.execute.types import norm_table

    def run() -> pa.Array:
        rel = Relation.of(norm_table(table), None)
        return flat(Evaluator(rel, Context({})).predicate(_unqualify(expr)))

    return _guard(run)


def _unqualify(expr: exp.Expression) -> exp.Expression:
    from sqlglot import exp as e

    def strip(n: e.Expression) -> e.Expression:
        if isinstance(n, e.Column) and n.table:
            return e.column(n.this.copy())
        return n

    return expr.transform(strip)
