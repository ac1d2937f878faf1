"""Plan rewrites applied to the optimized query before it is split, one per module."""

from __future__ import annotations

from sqlglot import exp


def in_scope(node: exp.Expression, sel: exp.Select) -> bool:
    """Is ``node`` part of ``sel`` itself, not of a query nested in it?"""
    parent = node.parent
    while parent is not None and parent is not sel:
        if isinstance(parent, exp.Query):
            return False
        parent = parent.parent
    return parent is sel
