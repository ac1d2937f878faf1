"""The conformance suite every CRM connector runs against its loopback emulator.

A vendor test module subclasses ``CrmConformance`` and supplies a ``case``
fixture returning a ``CrmCase``; that is the whole cost of a new CRM::

    class TestAcmeConformance(CrmConformance):
        @pytest.fixture()
        def case(self, acme_factory):
            return CrmCase(
                make=lambda rows, **opts: acme_factory(rows, **opts),
                table="people", key="id", page_size=100,
                expected_types={"id": pa.int64(), "email": pa.string()},
                predicates={"email = 'x@y.z'": "inexact", "score > 3": "exact", "lower(email) = 'a'": "unsupported"},
                drift_field=("email", "e_mail"), drift_column="email",
                count=lambda emu: len(emu.rows("people")),
            )

``make(rows, **options)`` starts an emulator whose ``table`` holds exactly
``rows`` rows and returns ``(connector, emulator)``; ``options`` override the
connector's source options (the suite passes ``token`` and ``retry_budget``).
The emulator must derive from ``connectors.emulators.base.EmulatorBase``.

Covered: discovery and types; paging to the end (0, 1, page size, page size + 1
rows); capability honesty (each classified predicate, read with the filter
pushed, against DuckDB over the unfiltered read: equal for exact, a superset for
inexact, and the verdict itself pinned); error mapping (401 → SourceError exit 3
naming the source; 429 bursts retried; 429 past the retry budget →
RateLimitedError naming source and request; 500s retried; truncated JSON
retried; a renamed field → an error saying "schema drift" and naming the field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest
import sqlglot

from connectors.base import ScanRequest
from federation.errors import RateLimitedError, SourceError


@dataclass
class CrmCase:
    make: Callable[..., tuple[Any, Any]]
    table: str
    key: str
    page_size: int
    expected_types: Mapping[str, pa.DataType]
    predicates: Mapping[str, str]  # WHERE conjunct (PostgreSQL SQL) -> expected verdict
    drift_field: tuple[str, str]  # (native field, new name) for emulator.rename_field
    drift_column: str  # the column whose field is renamed
    count: Callable[[Any], int]
    rows: int = 60
    source: str = "crm"


def where(sql: str) -> sqlglot.exp.Expression:
    """One WHERE conjunct as the planner hands it to connectors (bare columns)."""
    return sqlglot.parse_one(f"SELECT 1 FROM t WHERE {sql}", read="postgres").args["where"].this


def read(conn: Any, table: str, columns: list[str] | None = None, filters: tuple[Any, ...] = (), **kw: Any) -> pa.Table:
    """Scan ``table`` of ``conn`` (all columns by default) into one Arrow table."""
    info = next(t for t in conn.tables() if t.name == table)
    cols = tuple(columns or info.column_names)
    return conn.scan(ScanRequest(output_names=cols, table=table, columns=cols, filters=filters, **kw)).read_all()


def duckdb_keys(full: pa.Table, key: str, predicate: str) -> list[Any]:
    """Keys of the rows of ``full`` satisfying ``predicate``, by DuckDB (the oracle)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("t", full)
        return sorted(r[0] for r in con.execute(f'SELECT "{key}" FROM t WHERE {predicate}').fetchall())
    finally:
        con.close()


def _table_info(conn: Any, table: str) -> Any:
    return next(t for t in conn.tables() if t.name == table)


class CrmConformance:
    """Subclass and provide a ``case`` fixture (see the module docstring)."""

    def test_discovery_and_types(self, case: CrmCase) -> None:
        conn, _ = case.make(case.rows)
        info = _table_info(conn, case.table)
        for name, type_ in case.expected_types.items():
            col = info.column(name)
            assert col is not None, f"column {name} not discovered"
            assert col.type == type_, f"{name}: {col.type} != {type_}"
        got = read(conn, case.table)
        assert got.schema.types == [c.type for c in info.columns]
        assert got.num_rows > 0

    @pytest.mark.parametrize("size", ["zero", "one", "page", "page_plus_one"])
    def test_paging_to_the_end(self, case: CrmCase, size: str) -> None:
        n = {"zero": 0, "one": 1, "page": case.page_size, "page_plus_one": case.page_size + 1}[size]
        conn, emu = case.make(n)
        assert case.count(emu) == n
        keys = read(conn, case.table, [case.key]).column(0).to_pylist()
        assert len(keys) == n and len(set(keys)) == n

    def test_capability_honesty(self, case: CrmCase) -> None:
        conn, _ = case.make(case.rows)
        info = _table_info(conn, case.table)
        full = read(conn, case.table)
        verdicts = {}
        for sql, expected in case.predicates.items():
            verdicts[sql] = verdict = conn.classify(where(sql), info)
            assert verdict == expected, f"{sql}: classified {verdict}, expected {expected}"
            if verdict == "unsupported":
                continue
            got = sorted(read(conn, case.table, filters=(where(sql),)).column(case.key).to_pylist())
            want = duckdb_keys(full, case.key, sql)
            if verdict == "exact":
                assert got == want, f"exact filter {sql} returned other rows"
            else:
                assert set(want) <= set(got), f"inexact filter {sql} lost rows"
        assert "exact" in verdicts.values(), "no predicate was exact: the suite would prove nothing"

    def test_bad_token_is_a_source_error(self, case: CrmCase) -> None:
        conn, _ = case.make(3, token="not-the-token-4711")
        with pytest.raises(SourceError) as ei:
            conn.tables()
            read(conn, case.table)
        text = str(ei.value)
        assert ei.value.exit_code == 3 and f"source '{case.source}'" in text and "401" in text
        assert "not-the-token-4711" not in text

    def test_429_burst_is_retried(self, case: CrmCase) -> None:
        conn, emu = case.make(case.rows)
        conn.tables()
        emu.burst_429(3, retry_after=0)
        assert read(conn, case.table, [case.key]).num_rows == case.count(emu)
        assert sum(r.status == 429 for r in emu.requests()) == 3

    def test_429_past_budget_is_rate_limited(self, case: CrmCase) -> None:
        conn, emu = case.make(case.rows, retry_budget=0.4)
        conn.tables()
        emu.burst_429(10_000, retry_after=0.1)
        with pytest.raises(RateLimitedError) as ei:
            read(conn, case.table, [case.key])
        text = str(ei.value)
        assert f"source '{case.source}'" in text and "429" in text
        assert re.search(r"\b(GET|POST|PATCH|PUT) /\S+", text), text
        assert ei.value.exit_code == 3

    def test_500s_and_truncated_json_are_retried(self, case: CrmCase) -> None:
        conn, emu = case.make(case.rows)
        conn.tables()
        emu.fail_500(2)
        emu.truncate_next(1)
        assert read(conn, case.table, [case.key]).num_rows == case.count(emu)
        statuses = [r.status for r in emu.requests()]
        assert statuses.count(500) == 2

    def test_renamed_field_is_schema_drift(self, case: CrmCase) -> None:
        conn, emu = case.make(case.rows)
        conn.tables()
        emu.rename_field(*case.drift_field)
        with pytest.raises(SourceError, match="schema drift") as ei:
            read(conn, case.table, [case.key, case.drift_column])
        assert case.drift_field[0] in str(ei.value)
