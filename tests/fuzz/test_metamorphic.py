"""A short, seeded metamorphic run per source combination is part of the suite
(``make fuzz`` runs longer; CDP_FUZZ_SECONDS / CDP_FUZZ_SEED override)."""

from __future__ import annotations

import os

import pytest

from tests.fuzz.metamorphic import run

SECONDS = float(os.environ.get("CDP_FUZZ_SECONDS", "6"))
SEED = int(os.environ.get("CDP_FUZZ_SEED", "1"))


def _report(findings: list) -> str:  # type: ignore[type-arg]
    return "\n".join(f"[{f.kind}] {f.detail}: {f.sql}" for f in findings)


@pytest.mark.parametrize("combo", ["sqlite_parquet", "crm_sqlite"])
def test_short_metamorphic_run_finds_nothing(combo: str) -> None:
    findings = run(seconds=SECONDS, seed=SEED, combo=combo)
    assert not findings, _report(findings)


def test_short_metamorphic_run_over_postgres_finds_nothing(pg_uri: str, pg_schema: str) -> None:
    findings = run(seconds=SECONDS, seed=SEED, combo="pg_parquet", pg_uri=pg_uri, pg_schema=pg_schema)
    assert not findings, _report(findings)
