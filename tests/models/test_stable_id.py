"""The customer identifier is the same across runs and processes (no Python hash())."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.models.data import ENTITIES_YAML, make_sources
from tests.models.helpers import duck, make_ws, rows

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys, tempfile
from pathlib import Path
from tests.models.data import STITCH_YAML, stitch_sources
from tests.models.helpers import make_ws
ws = make_ws(Path(tempfile.mkdtemp()), stitch_sources(), "sqlite", STITCH_YAML)
ws.plan("SELECT customer_id FROM customers")
conn = ws.connector("_model")
out = {}
for i in range(2):
    t = conn.get_table(f"customers__map{i}")
    out.update({f"{i}:{k}": v for k, v in zip(t["link"].to_pylist(), t["cluster"].to_pylist())})
print(json.dumps(out, sort_keys=True))
"""


def _ids_in_subprocess(seed: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_stitched_ids_equal_across_processes() -> None:
    first, second = _ids_in_subprocess("1"), _ids_in_subprocess("2")
    assert first == second and len(first) >= 10
    assert len(set(first.values())) == 6


def test_single_key_id_is_md5_of_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = make_sources(20, seed=4)
    con = duck(data)
    plans = [make_ws(tmp_path / str(i), data, "memory", ENTITIES_YAML) for i in range(2)]
    runs = [sorted((r["email"], r["customer_id"]) for r in rows(con, w.plan("SELECT email, customer_id FROM customers").sql))
            for w in plans]
    assert runs[0] == runs[1]
    assert all(cid == hashlib.md5(email.encode()).hexdigest() for email, cid in runs[0])

