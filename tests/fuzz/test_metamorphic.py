"""A short, seeded metamorphic run is part of the suite (``make fuzz`` runs longer)."""

from __future__ import annotations

import os

from tests.fuzz.metamorphic import run


def test_short_metamorphic_run_finds_nothing() -> None:
    seconds = float(os.environ.get("CDP_FUZZ_SECONDS", "15"))
    findings = run(seconds=seconds, seed=int(os.environ.get("CDP_FUZZ_SEED", "1")))
    assert not findings, "\n".join(f"[{f.kind}] {f.detail}: {f.sql}" for f in findings)
