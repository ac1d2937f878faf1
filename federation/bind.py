"""Bind a parsed query to the catalog: check every table and column, then optimize.

Unknown names become QueryErrors with the query position and a did-you-mean
drawn from the names the user can see. The result is sqlglot's optimized form
with each physical table isolated in its own scope (``leave_tables_isolated``),
ready to be cut into per-source fragments.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError

from federation.catalog import Catalog
from federation.errors import QueryError, SourceError, UnsupportedError, did_you_mean
from federation.optimize import optimize
from federation.sqlfront import node_position

_UNRESOLVED = re.compile(r"Column '([^']+)' could not be resolved")


def _cte_names(query: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}


def physical_tables(
    query: exp.Expression, catalog: Catalog, sql: str, extra_names: Callable[[], list[str]] | None = None
) -> set[tuple[str, str]]:
    """Every ``source.table`` the query reads; raises on unknown ones."""
    ctes = _cte_names(query)
    refs: set[tuple[str, str]] = set()
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise UnsupportedError(f"table expression {table.sql(dialect='postgres')}")
        if table.args.get("catalog"):
            raise QueryError(
                f"'{table.sql(dialect='postgres')}' has three parts; tables are addressed as source.table",
                sql=sql,
                position=(node_position(sql, table) or ((1, 1), 1))[0],
            )
        db = table.db
        if not db:
            if table.name.lower() in ctes:
                continue
            _unknown_bare_table(table, catalog, sql, extra_names() if extra_names else [])
        info = catalog.table(db.lower(), table.name, sql=sql, node=table)
        refs.add((db.lower(), info.name))
    return refs


def _error_at(message: str, sql: str, node: exp.Expression | None, hint: str | None) -> QueryError:
    """A QueryError pointing at ``node``'s place in ``sql`` (when it can be found)."""
    where = node_position(sql, node) if node is not None else None
    return QueryError(message, sql=sql, position=where[0] if where else None,
                      length=where[1] if where else 1, hint=hint)


def _no_such_table(table: exp.Table, sql: str, hint: str) -> QueryError:
    return _error_at(f"table '{table.name}' does not exist", sql, table, hint)


def _unknown_bare_table(table: exp.Table, catalog: Catalog, sql: str, entities: list[str]) -> None:
    if entities:
        guess = did_you_mean(table.name, entities)
        if guess:
            raise _no_such_table(table, sql, guess)
    names: list[str] = list(entities)
    for source in catalog.source_names:
        try:
            names += [f"{source}.{t}" for t in catalog.tables(source)]
        except SourceError:
            continue  # suggestions are best effort; the real error is the name
    guess = did_you_mean(table.name, [n.split(".", 1)[-1] for n in names])
    hint = "Tables are addressed as source.table"
    if guess:
        match = next(n for n in names if n.split(".", 1)[-1].lower() == guess.split("'")[1].lower())
        hint = f"Did you mean '{match}'? {hint}."
    else:
        hint += f"; this workspace has: {', '.join(sorted(names)[:12]) or '(no tables)'}."
    raise _no_such_table(table, sql, hint)


_FLIP: dict[type[exp.Expression], type[exp.Expression]] = {
    exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ, exp.NEQ: exp.NEQ,
}


def _column_first(query: exp.Query, copy: bool = True) -> exp.Query:
    """``0 <= i`` → ``i >= 0`` before optimizing: sqlglot 30.30's simplify merges
    ``i > 0 AND 0 <= i`` into ``i >= 0`` (a wrong answer) when a literal comes first."""

    def flip(node: exp.Expression) -> exp.Expression:
        kind = _FLIP.get(type(node))
        if kind is not None and isinstance(node.this, exp.Literal) and not isinstance(node.expression, exp.Literal):
            return kind(this=node.expression, expression=node.this)
        return node

    return query.transform(flip, copy=copy)  # type: ignore[return-value]


def _factor_or(query: exp.Query, copy: bool = True) -> exp.Query:
    """``(a AND b) OR (a AND c)`` → ``a AND (b OR c)``: a join condition repeated in
    every branch (TPC-H q19) becomes an equi-join key instead of a cross product."""

    def conj(node: exp.Expression) -> list[exp.Expression]:
        node = node.unnest()
        return list(node.flatten()) if isinstance(node, exp.And) else [node]

    def factor(node: exp.Expression) -> exp.Expression:
        # only the top of an OR chain: flatten() covers the rest (per link it was quadratic:
        # 200 ORed equalities took 2 s to plan)
        if not isinstance(node, exp.Or) or isinstance(node.parent, exp.Or) or node.find(exp.Query) is not None:
            return node
        branches = [conj(b) for b in node.flatten()]
        keys = [{c.sql(dialect="postgres"): c for c in b} for b in branches]
        common = [k for k in keys[0] if all(k in other for other in keys[1:])]
        if not common:
            return node
        rest = [[c for k, c in kb.items() if k not in common] for kb in keys]
        if any(not r for r in rest):  # one branch is just the common part: it absorbs the OR
            return exp.and_(*[keys[0][k].copy() for k in common])
        ors = exp.or_(*[exp.and_(*[c.copy() for c in r]) for r in rest])
        return exp.and_(*[keys[0][k].copy() for k in common], ors)

    return query.transform(factor, copy=copy)  # type: ignore[return-value]


def bind(
    query: exp.Query, catalog: Catalog, sql: str, extra_names: Callable[[], list[str]] | None = None,
    copy: bool = True,
) -> tuple[exp.Query, set[tuple[str, str]]]:
    """Check names and optimize. Returns the optimized query and the tables it reads.

    ``copy=False``: the caller hands ``query`` over (the planner's freshly parsed
    tree), so the rewrites before optimizing change it in place instead of each
    copying the whole tree; the optimizer still works on its own copy."""
    refs = physical_tables(query, catalog, sql, extra_names)
    schema = catalog.schema_for(refs)
    if copy:
        query = query.copy()
    query = _factor_or(_column_first(query, copy=False), copy=False)
    query = equalities_to_in(query, copy=False)
    _check_limits(query, sql)
    try:
        optimized = optimize(query, schema=schema, dialect="postgres", leave_tables_isolated=True)
    except OptimizeError as e:
        raise _column_error(str(e), query, catalog, refs, sql) from None
    except SqlglotError as e:
        raise QueryError(f"cannot plan this query: {e}", sql=sql) from None
    except RecursionError:
        raise QueryError("cannot plan this query: it is nested too deeply",
                         hint="Flatten it: CTEs instead of nested subqueries, IN (...) instead of OR chains.") from None
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as e:
        # sqlglot's optimizer on odd but parseable input; a message, never a traceback
        raise QueryError(f"cannot plan this query (internal error in the SQL optimizer: {type(e).__name__})",
                         sql=sql, hint="Rewrite the expression; please report this query.") from None
    check_literal_types(optimized, sql)
    return optimized, refs  # type: ignore[return-value]


_COMPARE = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_ARITH = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)


def _kind(node: exp.Expression) -> str | None:
    t = getattr(node, "type", None)
    if not isinstance(t, exp.DataType):
        return None
    if t.this in exp.DataType.TEXT_TYPES:
        return "text"
    if t.this in exp.DataType.NUMERIC_TYPES and t.this is not exp.DataType.Type.BOOLEAN:
        return "number"
    return None


def _is_number(text: str) -> bool:
    try:
        float(text.strip())
        return True
    except ValueError:
        return False


def check_literal_types(query: exp.Expression, sql: str) -> None:
    """PostgreSQL's type errors between a column and a literal, raised once, here.

    Without this a PostgreSQL source rejected ``country = 5``, ``ltv > 'abc'`` or
    ``country / 'DE'`` (exit 3) while SQLite and Arrow answered them with no rows:
    two answers for one query (found by tests/fuzz/sqlmutate.py)."""
    for node in query.walk():
        if isinstance(node, (exp.Where, exp.Having, exp.Not, exp.And, exp.Or)):
            for cond in (node.this, node.args.get("expression")):
                if isinstance(cond, exp.Column) and _kind(cond) == "text":
                    raise _error_at(f"argument of {node.key.upper()} must be type boolean, not text ({cond.name})",
                                      sql, cond, "Compare the column with a value, e.g. col = 'x'.")
        if isinstance(node, (exp.Like, exp.ILike)) and isinstance(node.expression, exp.Literal) \
                and not node.expression.is_string:
            raise _error_at(f"{node.key.upper()} needs a text pattern, got {node.expression.this[:40]}", sql,
                              node.expression, "Quote the pattern: LIKE '5%'.")
        if isinstance(node, _COMPARE):
            kinds = {_kind(node.this), _kind(node.expression)}
            if kinds == {"text", "number"} and not any(isinstance(x, exp.Literal) for x in node.iter_expressions()):
                raise _error_at(f"operator does not exist: text {_SYMBOL[type(node)]} number", sql, node,
                                  "CAST one side so both have the same type.")
            sides = [(node.this, node.expression), (node.expression, node.this)]
            for col, lit in sides:
                if isinstance(col, exp.Column) and isinstance(lit, exp.Boolean) and _kind(col) == "number":
                    raise _error_at(f"operator does not exist: number {_SYMBOL[type(node)]} boolean", sql, lit,
                                      "Compare the column with a number.")
                if not isinstance(col, exp.Column) or not isinstance(lit, exp.Literal):
                    continue
                kind = _kind(col)
                if kind == "number" and lit.is_string and not _is_number(lit.this):
                    raise _error_at(f"invalid input syntax for type {col.type.sql('postgres').lower()}: "
                                      f"'{lit.this[:40]}'", sql, lit, "Compare the column with a number.")
                if kind == "text" and not lit.is_string:
                    raise _error_at(f"operator does not exist: text {_SYMBOL[type(node)]} number ({col.name} vs "
                                      f"{lit.this[:40]})", sql, lit, "Quote the value ('5') or CAST the column.")
        elif isinstance(node, exp.In) and _kind(node.this) == "number":
            bad = next((e for e in node.expressions if isinstance(e, exp.Literal) and e.is_string
                        and not _is_number(e.this)), None)
            if bad is not None:
                raise _error_at(f"invalid input syntax for type {node.this.type.sql('postgres').lower()}: "
                                  f"'{bad.this[:40]}'", sql, bad, "Compare the column with numbers.")
        elif isinstance(node, exp.In) and _kind(node.this) == "text":
            bad = next((e for e in node.expressions if isinstance(e, exp.Literal) and not e.is_string), None)
            if bad is not None:
                raise _error_at(f"operator does not exist: text = number ({node.this.name} IN ... {bad.this[:40]})",
                                  sql, bad, "Quote the values ('5') or CAST the column.")
        elif isinstance(node, _ARITH) and not isinstance(node, exp.DPipe):
            if isinstance(node, exp.Mod):
                _check_float_modulo(node, sql)
            for side, other in ((node.this, node.expression), (node.expression, node.this)):
                if _kind(side) == "number" and isinstance(other, exp.Literal) and other.is_string \
                        and not _is_number(other.this):
                    raise _error_at(f"invalid input syntax for a number: '{other.this[:40]}'", sql, other,
                                      "Use a number.")
                if _kind(side) == "text" and isinstance(side, exp.Column):
                    raise _error_at(f"operator does not exist: text {_SYMBOL.get(type(node), node.key)} ... "
                                      f"({side.name} is text)", sql, side, "CAST the column to a number first.")
        elif isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and not node.this.is_string \
                and node.to.this in exp.DataType.TEMPORAL_TYPES:
            raise _error_at(f"cannot cast a number to {node.to.sql('postgres').lower()}", sql, node.this,
                              "Write the date as text: DATE '2024-01-31'.")


def _check_float_modulo(node: exp.Mod, sql: str) -> None:
    # PostgreSQL has % for integers and numeric only: `double % int` failed at a
    # PostgreSQL source (exit 3) and answered elsewhere (tests/fuzz/metamorphic.py)
    for side in (node.this, node.expression):
        t = getattr(side, "type", None)
        if isinstance(t, exp.DataType) and t.this in (exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT):
            raise _error_at("operator does not exist: double precision % ...", sql, side,
                              "CAST it to numeric (exact) or integer first.")


_SYMBOL = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%", exp.EQ: "=", exp.NEQ: "<>",
           exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}




def _check_limits(query: exp.Query, sql: str) -> None:
    """LIMIT/OFFSET literals must be whole numbers a source can take (0 .. 2^63-1):
    ``LIMIT 1.5`` or ``LIMIT 1e40`` reached SQLite as a datatype mismatch (fuzzing)."""
    for node in query.find_all(exp.Limit, exp.Offset, exp.Fetch):
        value = node.args.get("count") if isinstance(node, exp.Fetch) else node.expression
        if value is None or isinstance(value, exp.Null):
            continue
        neg = isinstance(value, exp.Neg)
        lit = value.this if neg else value
        if not isinstance(lit, exp.Literal):
            continue
        word = type(node).__name__.upper().replace("FETCH", "FETCH FIRST")
        ok = not lit.is_string and lit.this.isdigit() and not neg and int(lit.this) < 2**63
        if not ok:
            raise QueryError(f"{word} must be a whole number from 0 to {2**63 - 1}, got {value.sql()[:40]}", sql=sql,
                             position=(node_position(sql, lit) or ((1, 1), 1))[0])


def equalities_to_in(query: exp.Query, copy: bool = True) -> exp.Query:
    """``c = 1 OR c = 2 OR ...`` → ``c IN (1, 2, ...)``: the same answer under
    three-valued logic, and sqlglot's simplifier is quadratic in such OR chains
    (300 terms took 20 s to plan)."""

    def repl(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Or) or isinstance(node.parent, exp.Or):
            return node
        terms = list(node.flatten())
        groups: dict[str, list[exp.Expression]] = {}
        rest: list[exp.Expression] = []
        for t in terms:
            t = t.unnest()
            if isinstance(t, exp.EQ):
                col, lit = (t.this, t.expression) if isinstance(t.this, exp.Column) else (t.expression, t.this)
                if isinstance(col, exp.Column) and isinstance(lit, exp.Literal):
                    groups.setdefault(col.sql(), []).append(t)
                    continue
            rest.append(t)
        if all(len(g) < 3 for g in groups.values()):
            return node  # short chains: leave the user's form (and explain output) alone
        out: list[exp.Expression] = []
        for g in groups.values():
            if len(g) < 3:
                out += g
                continue
            col = g[0].this if isinstance(g[0].this, exp.Column) else g[0].expression
            lits = [x.expression if isinstance(x.this, exp.Column) else x.this for x in g]
            out.append(exp.In(this=col.copy(), expressions=[v.copy() for v in lits]))
        return exp.or_(*out, *rest, copy=False) if len(out) + len(rest) > 1 else (out + rest)[0]

    return query.transform(repl, copy=copy)  # type: ignore[return-value]


def _column_error(
    text: str, query: exp.Query, catalog: Catalog, refs: set[tuple[str, str]], sql: str
) -> QueryError:
    m = _UNRESOLVED.search(text)
    if not m:
        return QueryError(f"cannot resolve the query: {text.split('. Line')[0]}", sql=sql)
    name = m.group(1).split(".")[-1]
    node = next((c for c in query.find_all(exp.Column) if c.name.lower() == name.lower()), None)
    visible = sorted({c.name for s, t in refs for c in catalog.tables(s)[t].columns})
    visible += [a.alias for a in query.find_all(exp.Alias) if a.alias]
    hint = did_you_mean(name, visible)
    tables = ", ".join(f"{s}.{t}" for s, t in sorted(refs))
    return _error_at(f"column '{name}' does not exist in {tables or 'the query'}", sql, node, hint)
