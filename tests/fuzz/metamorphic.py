"""Metamorphic testing over federated data, in the style of SQLancer.

TLP (ternary logic partitioning): for a query Q and a random predicate p, the
rows of Q equal the multiset union of Q WHERE p, Q WHERE NOT p and
Q WHERE (p) IS NULL; for aggregates, the partitions' COUNT/SUM/MIN/MAX combine
to Q's. NoREC: the optimized, pushed-down plan against the unoptimized one
(pushdown off), and ``count(*) WHERE p`` against ``sum(CASE WHEN p ...)``,
which no optimizer can push down.

Source combinations: SQLite x Parquet, PostgreSQL x Parquet, and a CRM source
(the HubSpot emulator) with SQLite and Parquet. Predicates mix comparisons,
IN, LIKE, IS NULL, CASE, COALESCE, NULLIF, arithmetic and string functions over
columns with NULLs; aggregates are also partitioned per GROUP BY group.

Run: ``python -m tests.fuzz.metamorphic --seconds 60 --seed 1 [--combo C]`` (``make fuzz``).
Every discrepancy prints the SQL that shows it; exit status 1 if any.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.errors import CdpError, UnsupportedError

NUM = {"c": ["age", "ltv", "id"], "o": ["amount", "qty", "customer_id"], "e": ["value", "customer_id"],
       "h": ["hs_analytics_num_visits", "annualrevenue", "id"]}
TEXT = {"c": ["country", "email"], "o": ["status"], "e": ["name", "month"], "h": ["city", "lifecyclestage", "email"]}
TEXT_VALUES = ["DE", "FR", "paid", "click", "purchase", "2024-03", "user1@example.com", "", "lead", "Lisbon", "de"]
BASES = [
    ("{customers} c", ["c"]),
    ("{orders} o", ["o"]),
    ("{events} e", ["e"]),
    ("{customers} c JOIN {orders} o ON o.customer_id = c.id", ["c", "o"]),
    ("{customers} c LEFT JOIN {events} e ON e.customer_id = c.id", ["c", "e"]),
]
# with a CRM source (HubSpot emulator): its contacts alone and joined with orders
CRM_BASES = [
    ("{contacts} h", ["h"]),
    ("{contacts} h JOIN {orders} o ON o.customer_id + 999 = h.id", ["h", "o"]),
]


def _num_expr(rnd: random.Random, col: str, other: str) -> str:
    """A numeric expression: CASE, COALESCE, NULLIF, arithmetic (no division: 0 divisors)."""
    k = rnd.randint(-3, 60)
    return rnd.choice([
        f"CASE WHEN {col} > {k} THEN {col} ELSE {other} END",
        f"CASE WHEN {col} IS NULL THEN {k} WHEN {col} < {k} THEN -{col} END",
        f"COALESCE({col}, {other}, {k})",
        f"NULLIF({col}, {k})",
        f"({col} * {rnd.randint(-2, 3)} + {other})",
        f"abs({col} - {k})",
        f"CAST({col} - {other} AS INTEGER) % {rnd.randint(2, 9)}",  # PostgreSQL has no float % int
        f"greatest({col}, {k})",
    ])


def _text_expr(rnd: random.Random, col: str) -> str:
    return rnd.choice([
        f"lower({col})", f"upper({col})", f"trim({col})", f"substring({col}, 1, {rnd.randint(1, 4)})",
        f"{col} || 'x'", f"COALESCE({col}, '')", f"replace({col}, 'e', 'E')",
        f"CASE WHEN {col} LIKE '%a%' THEN 'a' ELSE {col} END",
    ])


def _expr_atom(rnd: random.Random, a: str) -> str:
    if rnd.random() < 0.5:
        col, other = f"{a}.{rnd.choice(NUM[a])}", f"{a}.{rnd.choice(NUM[a])}"
        return f"{_num_expr(rnd, col, other)} {rnd.choice(['=', '<>', '<', '>=', 'IS DISTINCT FROM'])} {rnd.randint(-5, 200)}"
    col = f"{a}.{rnd.choice(TEXT[a])}"
    choice = rnd.random()
    if choice < 0.4:
        return f"{_text_expr(rnd, col)} {rnd.choice(['=', '<>', '>'])} '{rnd.choice(TEXT_VALUES)}'"
    if choice < 0.7:
        return f"length({_text_expr(rnd, col)}) {rnd.choice(['<', '>', '='])} {rnd.randint(0, 12)}"
    return f"{_text_expr(rnd, col)} LIKE '{rnd.choice(['%a%', 'D%', '%x', '_e%'])}'"


def _atom(rnd: random.Random, aliases: list[str]) -> str:
    a = rnd.choice(aliases)
    if rnd.random() < 0.35:
        return _expr_atom(rnd, a)
    kind = rnd.random()
    if kind < 0.5:
        col = f"{a}.{rnd.choice(NUM[a])}"
        choice = rnd.random()
        if choice < 0.6:
            return f"{col} {rnd.choice(['=', '<>', '<', '<=', '>', '>='])} {rnd.randint(-5, 400)}"
        if choice < 0.75:
            return f"{col} {rnd.choice(['IS NULL', 'IS NOT NULL'])}"
        if choice < 0.9:
            return f"{col} IN ({', '.join(str(rnd.randint(0, 60)) for _ in range(rnd.randint(1, 4)))})"
        return f"{col} + {rnd.randint(1, 9)} * {rnd.randint(-2, 3)} > {rnd.randint(0, 200)}"
    col = f"{a}.{rnd.choice(TEXT[a])}"
    choice = rnd.random()
    if choice < 0.5:
        return f"{col} {rnd.choice(['=', '<>', '<', '>'])} '{rnd.choice(TEXT_VALUES)}'"
    if choice < 0.7:
        return f"{col} {rnd.choice(['IS NULL', 'IS NOT NULL'])}"
    if choice < 0.85:
        return f"{col} LIKE '{rnd.choice(['%a%', 'D%', '%1', 'user_%'])}'"
    return f"COALESCE({col}, 'x') IN ('{rnd.choice(TEXT_VALUES)}', 'x')"


def predicate(rnd: random.Random, aliases: list[str], depth: int = 0) -> str:
    if depth >= 2 or rnd.random() < 0.45:
        return _atom(rnd, aliases)
    op = rnd.random()
    left, right = predicate(rnd, aliases, depth + 1), predicate(rnd, aliases, depth + 1)
    if op < 0.4:
        return f"({left} AND {right})"
    if op < 0.8:
        return f"({left} OR {right})"
    return f"NOT ({left})"


@dataclass
class Finding:
    kind: str
    sql: list[str]
    detail: str


def _rows(table: Any) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(round(v, 6) if isinstance(v, float) else v for v in r.values()) for r in table.to_pylist())


def _projection(rnd: random.Random, aliases: list[str]) -> str:
    cols = []
    for a in aliases:
        cols.append(f"{a}.{rnd.choice(NUM[a] + TEXT[a])}")
        if rnd.random() < 0.4:
            num = f"{a}.{rnd.choice(NUM[a])}"
            expr = _num_expr(rnd, num, f"{a}.{rnd.choice(NUM[a])}") if rnd.random() < 0.5 else _text_expr(rnd, f"{a}.{rnd.choice(TEXT[a])}")
            cols.append(f"{expr} AS x{len(cols)}")
    return ", ".join(cols)


def _tlp_rows(ws: Any, frm: str, aliases: list[str], p: str, rnd: random.Random) -> Finding | None:
    q = f"SELECT {_projection(rnd, aliases)} FROM {frm}"
    parts = [f"{q} WHERE {p}", f"{q} WHERE NOT ({p})", f"{q} WHERE ({p}) IS NULL"]
    whole = _rows(ws.query(q))
    union: Counter[tuple[Any, ...]] = Counter()
    for sql in parts:
        union += _rows(ws.query(sql))
    if union != whole:
        return Finding("TLP", [q, *parts], f"{sum(whole.values())} rows vs {sum(union.values())} in the partitions")
    on = _rows(ws.query(parts[0]))
    off = _rows(ws.query(parts[0], pushdown=False))
    if on != off:
        return Finding("NoREC (pushdown)", [parts[0]], f"pushdown on {sum(on.values())} rows, off {sum(off.values())}")
    return None


def _tlp_aggregates(ws: Any, frm: str, aliases: list[str], p: str, rnd: random.Random) -> Finding | None:
    counted = ws.query(f"SELECT count(*) AS n FROM {frm} WHERE {p}").column(0)[0].as_py()
    summed = ws.query(f"SELECT sum(CASE WHEN {p} THEN 1 ELSE 0 END) AS n FROM {frm}").column(0)[0].as_py() or 0
    if counted != summed:
        return Finding("NoREC (count)", [f"SELECT count(*) FROM {frm} WHERE {p}"], f"{counted} vs {summed}")
    agg_col = f"{aliases[0]}.{rnd.choice(NUM[aliases[0]])}"
    agg = f"SELECT count({agg_col}) AS n, sum({agg_col}) AS s, min({agg_col}) AS lo, max({agg_col}) AS hi FROM {frm}"
    total = ws.query(agg).to_pylist()[0]
    pieces = [ws.query(f"{agg} WHERE {w}").to_pylist()[0] for w in (p, f"NOT ({p})", f"({p}) IS NULL")]
    return _combine("", total, pieces, [agg, p])


def _combine(group: Any, total: dict[str, Any], pieces: list[dict[str, Any]], sql: list[str]) -> Finding | None:
    where = f" (group {group!r})" if group != "" else ""
    if sum(x["n"] for x in pieces) != total["n"]:
        return Finding("TLP (count)" + where, sql, f"{total['n']} vs {[x['n'] for x in pieces]}")
    sums = [x["s"] for x in pieces if x["s"] is not None]
    if total["s"] is not None and abs(sum(sums) - total["s"]) > 1e-6 * max(1.0, abs(total["s"])):
        return Finding("TLP (sum)" + where, sql, f"{total['s']} vs {sums}")
    if (total["s"] is None) != (not sums):
        return Finding("TLP (sum NULL)" + where, sql, f"{total['s']} vs {sums}")
    los = [x["lo"] for x in pieces if x["lo"] is not None]
    if (min(los) if los else None) != total["lo"]:
        return Finding("TLP (min)" + where, sql, f"{total['lo']} vs {los}")
    his = [x["hi"] for x in pieces if x["hi"] is not None]
    if (max(his) if his else None) != total["hi"]:
        return Finding("TLP (max)" + where, sql, f"{total['hi']} vs {his}")
    return None


def _tlp_groups(ws: Any, frm: str, aliases: list[str], p: str, rnd: random.Random) -> Finding | None:
    """TLP per GROUP BY partition: each group's count/sum/min/max combine from the three parts."""
    a = rnd.choice(aliases)
    key = f"{a}.{rnd.choice(TEXT[a])}" if rnd.random() < 0.6 else f"CAST({a}.{rnd.choice(NUM[a])} AS INTEGER) % 3"
    col = f"{aliases[0]}.{rnd.choice(NUM[aliases[0]])}"
    agg = f"SELECT {key} AS g, count({col}) AS n, sum({col}) AS s, min({col}) AS lo, max({col}) AS hi FROM {frm}"
    total = {r["g"]: r for r in ws.query(f"{agg} GROUP BY 1").to_pylist()}
    parts: dict[Any, list[dict[str, Any]]] = {g: [] for g in total}
    for w in (p, f"NOT ({p})", f"({p}) IS NULL"):
        for r in ws.query(f"{agg} WHERE {w} GROUP BY 1").to_pylist():
            if r["g"] not in parts:
                return Finding("TLP (groups)", [agg, p], f"group {r['g']!r} only in a partition")
            parts[r["g"]].append(r)
    for g, t in total.items():
        f = _combine(g, t, parts[g] or [{"n": 0, "s": None, "lo": None, "hi": None}], [f"{agg} GROUP BY 1", p])
        if f is not None:
            return f
    return None


def check_once(ws: Any, names: dict[str, str], rnd: random.Random, bases: list[tuple[str, list[str]]] | None = None) -> Finding | None:
    base, aliases = rnd.choice(bases or BASES)
    frm = base.format(**names)
    p = predicate(rnd, aliases)
    try:
        for check in (_tlp_rows, _tlp_aggregates, _tlp_groups):
            found = check(ws, frm, aliases, p, rnd)
            if found is not None:
                return found
    except UnsupportedError:
        return None
    except CdpError as e:  # generated SQL is valid: a QueryError or SourceError is a finding too
        return Finding(type(e).__name__, [frm, p], e.message[:300])
    return None


COMBOS = ("sqlite_parquet", "pg_parquet", "crm_sqlite")


def _workspace(combo: str, root: Path, seed: int, pg_uri: str | None, pg_schema: str | None,
               stack: ExitStack) -> tuple[Any, dict[str, str], list[tuple[str, list[str]]]]:
    from federation import Workspace
    from tests.federation.oracle import build_workspace
    from tests.federation.oracle_data import make_tables

    tables = make_tables(n_customers=80, seed=seed)
    if combo != "crm_sqlite":
        names, env = build_workspace(combo, root, tables, pg_uri=pg_uri, pg_schema=pg_schema)
        return stack.enter_context(Workspace.load(root, env=env)), names, BASES
    from connectors.emulators.hubspot import HubSpotEmulator

    names, env = build_workspace("sqlite_parquet", root, tables)
    emu = stack.enter_context(HubSpotEmulator(contacts=80, seed=seed, search_per_second=10_000, burst_max=100_000))
    with (root / "sources.yaml").open("a") as f:
        f.write("  crm: {type: hubspot, base_url: '${MM_HS_URL}', token: '${MM_HS_TOKEN}', rate_limit: 10000, "
                "search_rate_limit: 10000, tables: [contacts]}\n")
    env = {**env, "MM_HS_URL": emu.url, "MM_HS_TOKEN": emu.token}
    names = {**names, "contacts": "crm.contacts"}
    return stack.enter_context(Workspace.load(root, env=env)), names, BASES + CRM_BASES * 3


def run(seconds: float, seed: int, pg_uri: str | None = None, max_findings: int = 5, combo: str = "sqlite_parquet",
        pg_schema: str | None = None) -> list[Finding]:
    """Check random predicates over ``combo`` for ``seconds``; pg_parquet needs pg_uri and pg_schema."""
    findings: list[Finding] = []
    checks = 0
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        ws, names, bases = _workspace(combo, Path(tmp), seed, pg_uri, pg_schema, stack)
        rnd = random.Random(seed)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(findings) < max_findings:
            f = check_once(ws, names, rnd, bases)
            checks += 1
            if f is not None:
                findings.append(f)
    print(f"metamorphic: {combo}, {checks} checks, seed {seed}, {len(findings)} findings", file=sys.stderr)
    return findings


def _pg_schema(uri: str) -> tuple[str, Any]:
    """A throwaway schema for a command-line run against $CDP_TEST_POSTGRES_URI."""
    import uuid

    import adbc_driver_postgresql.dbapi as pg

    name = f"t_metamorphic_{uuid.uuid4().hex[:8]}"

    def sql(text: str) -> None:
        with pg.connect(uri) as con, con.cursor() as cur:
            cur.execute(text)
            con.commit()

    sql(f'CREATE SCHEMA "{name}"')
    return name, lambda: sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_uri_from_env() -> str | None:
    """$CDP_TEST_POSTGRES_URI, else the suite's default PostgreSQL when it answers."""
    import os

    from tests.conftest import DEFAULT_PG_URI, _reachable

    uri = os.environ.get("CDP_TEST_POSTGRES_URI")
    return uri if uri else (DEFAULT_PG_URI if _reachable(DEFAULT_PG_URI) else None)


def main(argv: list[str] | None = None) -> int:

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60, help="per source combination")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--combo", action="append", choices=COMBOS,
                    help="source combination (repeatable; default: all; pg_parquet needs PostgreSQL)")
    args = ap.parse_args(argv)
    uri = pg_uri_from_env()
    combos = args.combo or [c for c in COMBOS if c != "pg_parquet" or uri]
    findings: list[Finding] = []
    for combo in combos:
        if combo == "pg_parquet":
            if not uri:
                ap.error("pg_parquet needs $CDP_TEST_POSTGRES_URI (or the default local PostgreSQL)")
            schema, drop = _pg_schema(uri)
            try:
                findings += run(args.seconds, args.seed, pg_uri=uri, combo=combo, pg_schema=schema)
            finally:
                drop()
        else:
            findings += run(args.seconds, args.seed, combo=combo)
    for f in findings:
        print(f"[{f.kind}] {f.detail}")
        for sql in f.sql:
            print(f"    {sql}")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
