"""md5() as PostgreSQL computes it (customer ids of the model depend on it)."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import sqlglot
from sqlglot.optimizer import optimize

from federation.execute import execute


def test_md5_matches_hashlib_and_keeps_nulls() -> None:
    t = pa.table({"e": ["a@x.com", None, "a@x.com", "Ünï@x.com", ""]})
    q = optimize(sqlglot.parse_one("SELECT md5(e) AS h, md5('abc') AS k FROM t", read="postgres"),
                 schema={"t": {"e": "text"}}, dialect="postgres")
    got = execute(q, {"t": t}).to_pylist()
    want = [None if v is None else hashlib.md5(v.encode()).hexdigest() for v in t.column("e").to_pylist()]
    assert [r["h"] for r in got] == want
    assert {r["k"] for r in got} == {"900150983cd24fb0d6963f7d28e17f72"}
