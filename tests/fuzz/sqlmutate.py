"""Mutation fuzzing of the SQL front end: broken queries must fail as user errors.

Inputs are valid queries (tests/federation/oracle_queries.py) cut into tokens
and mutated (a token deleted, duplicated, swapped with its neighbour, replaced
by a random identifier, keyword or a huge literal), deep nesting, and token
soup. Each runs through ``Workspace.query`` under a per-example time limit. An
outcome is fine when the query answers or raises a ``UserError`` with a
message (exit 1); anything else is a finding: another exception (a crash), a
``SourceError`` (we generated SQL the source rejected), or a hang.

Run: ``python -m tests.fuzz.sqlmutate --seconds 60 --seed 1``.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.errors import SourceError, UserError

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|::|<>|<=|>=|\|\||\S")
KEYWORDS = ["SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "HAVING", "JOIN", "ON", "AND", "OR", "NOT",
            "NULL", "CASE", "WHEN", "THEN", "END", "UNION", "LIMIT", "AS", "IN", "IS", "LIKE", "WITH", "OVER",
            "DISTINCT", "(", ")", ",", "*", "+", "-", "/", "%", "=", "<", ">", "||", "::", ";", "'", '"']
HUGE = ["9" * 40, "1" + "0" * 400, "1e999", "-" + "9" * 30, "0.000000000000000000000000000000001",
        "'" + "x" * 20_000 + "'", "99999999999999999999.5", "2147483648", "-9223372036854775809"]


def tokens(sql: str) -> list[str]:
    return _TOKEN.findall(sql)


def _ident(rnd: random.Random) -> str:
    if rnd.random() < 0.3:
        return '"' + "".join(rnd.choice("aZ _-.;'é0") for _ in range(rnd.randint(1, 8))) + '"'
    return "".join(rnd.choice("abcxyz_") for _ in range(rnd.randint(1, 6)))


def mutate(sql: str, rnd: random.Random) -> str:
    """One to three token-level mutations of ``sql``."""
    toks = tokens(sql)
    for _ in range(rnd.randint(1, 3)):
        if not toks:
            break
        i = rnd.randrange(len(toks))
        op = rnd.randrange(7)
        if op == 0:
            del toks[i]
        elif op == 1:
            toks.insert(i, toks[i])
        elif op == 2 and i + 1 < len(toks):
            toks[i], toks[i + 1] = toks[i + 1], toks[i]
        elif op == 3:
            toks[i] = _ident(rnd)
        elif op == 4:
            toks.insert(i, rnd.choice(KEYWORDS))
        elif op == 5:
            toks[i] = rnd.choice(HUGE) if re.fullmatch(r"\d+(\.\d+)?|'.*'", toks[i], re.S) else rnd.choice(KEYWORDS)
        else:
            j = rnd.randrange(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
    return " ".join(toks)


def nested(rnd: random.Random, table: str) -> str:
    """Deeply nested but otherwise reasonable queries (parser and optimizer recursion)."""
    depth = rnd.choice([50, 200, 1000, 5000])
    kind = rnd.randrange(5)
    if kind == 0:
        return f"SELECT {'(' * depth}1{')' * depth} AS x FROM {table}"
    if kind == 1:
        return f"SELECT id FROM {table} WHERE {'NOT ' * depth}(id > 3)"
    if kind == 2:
        inner = f"SELECT id FROM {table}"
        for _ in range(min(depth, 300)):
            inner = f"SELECT id FROM ({inner}) AS t"
        return inner
    if kind == 3:
        return f"SELECT id FROM {table} WHERE " + " OR ".join(f"id = {i}" for i in range(depth))
    return f"SELECT {' + '.join(['id'] * depth)} AS s FROM {table}"


def soup(rnd: random.Random, names: list[str]) -> str:
    pool = KEYWORDS + names + HUGE[:3] + ["id", "email", "1", "'a'", "c", "t"]
    return " ".join(rnd.choice(pool) for _ in range(rnd.randint(1, 25)))


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so no ``except Exception`` swallows it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """SIGALRM-based limit (main thread only); raises Hang when exceeded."""

    def on_alarm(*_: Any) -> None:
        raise Hang()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Outcome:
    kind: str  # ok | user | source | crash | hang
    sql: str
    detail: str = ""


def classify(ws: Any, sql: str, limit: float = 5.0) -> Outcome:
    """Run ``sql``; say how it ended. Only 'ok' and 'user' are acceptable."""
    try:
        with time_limit(limit):
            ws.query(sql)
    except Hang:
        return Outcome("hang", sql, f"no answer within {limit:g} s")
    except UserError as e:
        if not e.render().strip():
            return Outcome("crash", sql, f"{type(e).__name__} without a message")
        if "internal error" in e.message:  # bind.py's safety net caught a crash
            return Outcome("crash", sql, e.message)
        return Outcome("user", sql, e.message)
    except SourceError as e:
        return Outcome("source", sql, e.message)
    except Exception as e:
        return Outcome("crash", sql, f"{type(e).__name__}: {str(e)[:300]}")
    return Outcome("ok", sql)


def inputs(rnd: random.Random, names: dict[str, str]) -> Iterator[str]:
    """An endless seeded stream of fuzz inputs over the workspace's tables."""
    from tests.federation.oracle_queries import QUERIES

    valid = [q.format(**names) for q in QUERIES]
    while True:
        r = rnd.random()
        if r < 0.75:
            yield mutate(rnd.choice(valid), rnd)
        elif r < 0.85:
            yield nested(rnd, names["customers"])
        else:
            yield soup(rnd, list(names.values()))


def run(seconds: float, seed: int, max_findings: int = 10, combo: str = "sqlite_parquet",
        pg_uri: str | None = None, pg_schema: str | None = None) -> list[Outcome]:
    """Fuzz for ``seconds`` over ``combo`` (tests/federation/oracle.py COMBOS; PostgreSQL ones need pg_uri/pg_schema)."""
    from federation import Workspace
    from tests.federation.oracle import build_workspace
    from tests.federation.oracle_data import make_tables

    findings: list[Outcome] = []
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        names, env = build_workspace(combo, Path(tmp), make_tables(n_customers=60, seed=seed), pg_uri=pg_uri,
                                     pg_schema=pg_schema)
        with Workspace.load(tmp, env=env) as ws:
            rnd = random.Random(seed)
            deadline = time.monotonic() + seconds
            for sql in inputs(rnd, names):
                if time.monotonic() > deadline or len(findings) >= max_findings:
                    break
                out = classify(ws, sql)
                counts[out.kind] = counts.get(out.kind, 0) + 1
                if out.kind not in ("ok", "user"):
                    findings.append(out)
    print(f"sqlmutate: {combo}, seed {seed}, outcomes {counts}, {len(findings)} findings", file=sys.stderr)
    return findings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--combo", choices=["sqlite_parquet", "pg_parquet", "pg_sqlite_csv"], default="sqlite_parquet",
                    help="sources to fuzz over (the PostgreSQL ones need PostgreSQL: $CDP_TEST_POSTGRES_URI or the local default)")
    args = ap.parse_args(argv)
    if args.combo == "sqlite_parquet":
        findings = run(args.seconds, args.seed)
    else:
        from tests.fuzz.metamorphic import _pg_schema, pg_uri_from_env

        uri = pg_uri_from_env()
        if not uri:
            ap.error(f"{args.combo} needs $CDP_TEST_POSTGRES_URI (or the default local PostgreSQL)")
        schema, drop = _pg_schema(uri)
        try:
            findings = run(args.seconds, args.seed, combo=args.combo, pg_uri=uri, pg_schema=schema)
        finally:
            drop()
    for f in findings:
        print(f"[{f.kind}] {f.detail}\n    {f.sql[:500]}")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
