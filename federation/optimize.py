"""sqlglot's optimizer, run rule by rule: the same rules, order and arguments as
``sqlglot.optimizer.optimize``, minus the rules that provably have nothing to do.

Planning is on every query's path (issue 6: fedcdp's own overhead), and two costs
of ``optimize`` are avoidable without changing its result:

* it inspects every rule's signature on every call to pick its arguments; here
  that is done once per process;
* five rules only act on scopes nested in the query (subqueries, derived
  tables, CTEs, table functions). A query that is one plain SELECT has only its
  root scope, and for it they return the tree untouched:
  ``unnest_subqueries`` skips a scope without a parent SELECT,
  ``eliminate_subqueries`` finds no derived table or CTE to name,
  ``merge_subqueries`` no CTE or derived table to merge,
  ``eliminate_joins`` no joined source that is a scope (plain tables never are),
  ``eliminate_ctes`` no CTE scope. Skipped, single-table queries plan 7-10 % faster.

tests/federation/test_optimize.py checks the result against sqlglot's own
``optimize`` (SQL and types) over the oracle, TPC-H and bench queries.
"""

from __future__ import annotations

import inspect
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.eliminate_ctes import eliminate_ctes
from sqlglot.optimizer.eliminate_joins import eliminate_joins
from sqlglot.optimizer.eliminate_subqueries import eliminate_subqueries
from sqlglot.optimizer.merge_subqueries import merge_subqueries
from sqlglot.optimizer.optimizer import RULES
from sqlglot.optimizer.unnest_subqueries import unnest_subqueries
from sqlglot.schema import Schema, ensure_schema

# each rule with the names of its parameters (what optimize() matches its arguments against)
_RULES = tuple((rule, tuple(inspect.getfullargspec(rule).args)) for rule in RULES)

# rules that only change scopes nested in the root one
_NESTED_ONLY = frozenset((unnest_subqueries, eliminate_subqueries, merge_subqueries, eliminate_joins, eliminate_ctes))

# every node from which sqlglot's scope traversal builds a child scope: queries
# (subqueries, set operations), derived tables (incl. UNNEST, LATERAL, VALUES), CTEs
_SCOPE_NODES = (exp.Query, exp.DerivedTable, exp.CTE, exp.With)


def one_scope(tree: exp.Expression) -> bool:
    """Is ``tree`` a single SELECT with no nested scope at all?"""
    return isinstance(tree, exp.Select) and not any(
        isinstance(n, _SCOPE_NODES) for n in tree.walk() if n is not tree
    )


def optimize(query: exp.Query, schema: dict[str, Any] | Schema, dialect: str = "postgres",
             **kwargs: Any) -> exp.Query:
    """``sqlglot.optimizer.optimize(query, schema=schema, dialect=dialect, **kwargs)``
    (which copies ``query`` first, as this does)."""
    available: dict[str, Any] = {
        # the arguments optimize() offers its rules, with its defaults
        "db": None, "catalog": None, "schema": ensure_schema(schema, dialect=dialect), "dialect": dialect,
        "sql": None, "isolate_tables": True, "quote_identifiers": False, **kwargs,
    }
    tree: exp.Expression = query.copy()
    single: bool | None = None  # one_scope(tree), while no rule has run since it was computed
    for rule, params in _RULES:
        if rule in _NESTED_ONLY:
            if single is None:
                single = one_scope(tree)
            if single:
                continue
        tree = rule(tree, **{p: available[p] for p in params if p in available})
        single = None
    return tree  # type: ignore[return-value]
