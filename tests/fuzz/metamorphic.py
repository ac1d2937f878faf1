"""Metamorphic testing over federated data, in the style of SQLancer.

TLP (ternary logic partitioning): for a query Q and a random predicate p, the
rows of Q equal the multiset union of Q WHERE p, Q WHERE NOT p and
Q WHERE (p) IS NULL; for aggregates, the partitions' COUNT/SUM/MIN/MAX combine
to Q's. NoREC: the optimized, pushed-down plan against the unoptimized one
(pushdown off), and ``count(*) WHERE p`` against ``sum(CASE WHEN p ...)``,
which no optimizer can push down.

Run: ``python -m tests.fuzz.metamorphic --seconds 60 --seed 1`` (``make fuzz``).
Every discrepancy prints the SQL that shows it; exit status 1 if any.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.errors import UnsupportedError

NUM = {"c": ["age", "ltv", "id"], "o": ["amount", "qty", "customer_id"], "e": ["value", "customer_id"]}
TEXT = {"c": ["country", "email"], "o": ["status"], "e": ["name", "month"]}
TEXT_VALUES = ["DE", "FR", "paid", "click", "purchase", "2024-03", "user1@example.com", ""]
BASES = [
    ("{customers} c", ["c"]),
    ("{orders} o", ["o"]),
    ("{events} e", ["e"]),
    ("{customers} c JOIN {orders} o ON o.customer_id = c.id", ["c", "o"]),
    ("{customers} c LEFT JOIN {events} e ON e.customer_id = c.id", ["c", "e"]),
]


def _atom(rnd: random.Random, aliases: list[str]) -> str:
    a = rnd.choice(aliases)
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


def check_once(ws: Any, names: dict[str, str], rnd: random.Random) -> Finding | None:
    base, aliases = rnd.choice(BASES)
    frm = base.format(**names)
    cols = ", ".join(f"{a}.{rnd.choice(NUM[a] + TEXT[a])}" for a in aliases)
    p = predicate(rnd, aliases)
    q = f"SELECT {cols} FROM {frm}"
    parts = [f"{q} WHERE {p}", f"{q} WHERE NOT ({p})", f"{q} WHERE ({p}) IS NULL"]
    try:
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
        counted = ws.query(f"SELECT count(*) AS n FROM {frm} WHERE {p}").column(0)[0].as_py()
        summed = ws.query(f"SELECT sum(CASE WHEN {p} THEN 1 ELSE 0 END) AS n FROM {frm}").column(0)[0].as_py() or 0
        if counted != summed:
            return Finding("NoREC (count)", [f"SELECT count(*) FROM {frm} WHERE {p}"], f"{counted} vs {summed}")
        agg_col = f"{aliases[0]}.{rnd.choice(NUM[aliases[0]])}"
        agg = f"SELECT count({agg_col}) AS n, sum({agg_col}) AS s, min({agg_col}) AS lo, max({agg_col}) AS hi FROM {frm}"
        total = ws.query(agg).to_pylist()[0]
        pieces = [ws.query(f"{agg} WHERE {w}").to_pylist()[0] for w in (p, f"NOT ({p})", f"({p}) IS NULL")]
        if sum(x["n"] for x in pieces) != total["n"]:
            return Finding("TLP (count)", [agg, p], f"{total['n']} vs {[x['n'] for x in pieces]}")
        sums = [x["s"] for x in pieces if x["s"] is not None]
        if total["s"] is not None and abs(sum(sums) - total["s"]) > 1e-6 * max(1.0, abs(total["s"])):
            return Finding("TLP (sum)", [agg, p], f"{total['s']} vs {sums}")
        los = [x["lo"] for x in pieces if x["lo"] is not None]
        if (min(los) if los else None) != total["lo"]:
            return Finding("TLP (min)", [agg, p], f"{total['lo']} vs {los}")
    except UnsupportedError:
        return None
    return None


def run(seconds: float, seed: int, pg_uri: str | None = None, max_findings: int = 5) -> list[Finding]:
    from federation import Workspace
    from tests.federation.oracle import build_workspace
    from tests.federation.oracle_data import make_tables

    tables = make_tables(n_customers=80, seed=seed)
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory() as tmp:
        names, env = build_workspace("sqlite_parquet", Path(tmp), tables)
        ws = Workspace.load(tmp, env=env)
        rnd = random.Random(seed)
        deadline = time.monotonic() + seconds
        checks = 0
        while time.monotonic() < deadline and len(findings) < max_findings:
            f = check_once(ws, names, rnd)
            checks += 1
            if f is not None:
                findings.append(f)
        ws.close()
    print(f"metamorphic: {checks} checks, seed {seed}, {len(findings)} findings", file=sys.stderr)
    return findings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    findings = run(args.seconds, args.seed)
    for f in findings:
        print(f"[{f.kind}] {f.detail}")
        for sql in f.sql:
            print(f"    {sql}")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
