"""The residual plan as Spark SQL over per-query temp views.

The residual is a sqlglot AST whose tables are fragment ids (``__f0``...); each
becomes a temp view named for this query only (``fedcdp_<random>_f0``), aliased
back to the fragment id so qualified columns keep resolving. sqlglot writes the
Spark dialect (explicit NULLS LAST/FIRST where PostgreSQL's defaults differ).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlglot import exp

if TYPE_CHECKING:
    from federation.plan import Plan


def view_names(plan: Plan) -> dict[str, str]:
    """Fresh view names for this query's fragments (never reused, never persisted)."""
    tag = uuid.uuid4().hex[:12]
    return {f.id: f"fedcdp_{tag}_{f.id.lstrip('_')}" for f in plan.fragments}


def spark_sql(plan: Plan, views: Mapping[str, str]) -> str:
    """Spark SQL computing the plan's answer from the views."""
    if plan.residual is None:
        view = views[plan.fragments[0].id]
        cols = ", ".join(_quote(n) for n in plan.fragments[0].request.output_names)
        return f"SELECT {cols or '*'} FROM {_quote(view)}"
    tree = plan.residual.copy()
    for table in list(tree.find_all(exp.Table)):
        name = table.name
        if name in views and not table.args.get("db"):
            alias = table.alias or name
            table.set("this", exp.to_identifier(views[name], quoted=True))
            table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    return tree.sql(dialect="spark", identify=True)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
