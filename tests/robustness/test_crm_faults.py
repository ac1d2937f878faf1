"""CRM faults end to end (Workspace and ``cdp``): 429 / 500 / truncated JSON are
retried to the same answer; slow replies beyond the timeout and faults that
outlast the retry budget fail with SourceError / exit 3 naming the source —
including faults that start after the first page (never a partial answer)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from federation import Workspace
from federation.errors import SourceError
from tests.robustness.conftest import CRMS, CrmWorkspace, cdp

RETRIED: dict[str, Callable[[Any], None]] = {
    "429": lambda e: e.burst_429(2, retry_after=0),
    "500": lambda e: e.fail_500(2),
    "truncated-json": lambda e: e.truncate_next(1),
}


@pytest.fixture(scope="module")
def ws(crm_ws: CrmWorkspace) -> Iterator[Workspace]:
    with Workspace.load(crm_ws.root, env=crm_ws.env) as w:
        yield w


@pytest.fixture(autouse=True)
def _clean(crm_ws: CrmWorkspace) -> Iterator[None]:
    for e in crm_ws.emulators.values():
        e.clear_faults()
        e.clear_log()
    yield
    for e in crm_ws.emulators.values():
        e.clear_faults()
        e.route = type(e).route.__get__(e)  # undo a mid-stream arming


def _sql(source: str) -> str:
    return f"SELECT * FROM {source}.{CRMS[source][1]} ORDER BY 1"


def _rows(table: Any) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


@pytest.mark.parametrize("fault", list(RETRIED))
@pytest.mark.parametrize("source", list(CRMS))
def test_transient_fault_is_retried_to_the_same_answer(ws: Workspace, crm_ws: CrmWorkspace, source: str,
                                                       fault: str) -> None:
    emu = crm_ws.emulators[source]
    want = _rows(ws.query(_sql(source)))
    emu.clear_log()
    RETRIED[fault](emu)
    got = _rows(ws.query(_sql(source)))
    assert got == want and want
    failed = [r for r in emu.log if r.status >= 400]
    assert failed or fault == "truncated-json", "the fault was never served"


def _arm_after_first(emu: Any, arm: Callable[[], None]) -> None:
    """Serve the next request normally, then switch the fault on: a scan breaks after its first page."""
    original = type(emu).route.__get__(emu)

    def route(req: Any) -> Any:
        reply = original(req)
        emu.route = original
        arm()
        return reply

    emu.route = route


@pytest.mark.parametrize("source", list(CRMS))
def test_failure_after_the_first_page_raises_instead_of_a_partial_answer(ws: Workspace, crm_ws: CrmWorkspace,
                                                                         source: str) -> None:
    emu = crm_ws.emulators[source]
    ws.query(_sql(source))
    assert len([r for r in emu.log if r.status == 200]) >= 2, "the scan must take several pages"
    _arm_after_first(emu, lambda: emu.fail_500(10_000))
    with pytest.raises(SourceError, match=rf"^source '{source}': .*500") as info:
        ws.query(_sql(source))
    assert info.value.exit_code == 3


@pytest.mark.parametrize("source", ["hs", "pd"])
def test_slow_replies_beyond_the_timeout_fail_naming_the_source(ws: Workspace, crm_ws: CrmWorkspace,
                                                               source: str) -> None:
    emu = crm_ws.emulators[source]
    ws.query(_sql(source))  # catalog discovered while fast
    emu.slow(0.5)  # the workspace's timeout is 0.3 s
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=rf"^source '{source}': timed out") as info:
        ws.query(_sql(source))
    assert "retry budget" in info.value.message and time.monotonic() - t0 < 10


def test_truncated_json_after_first_page_beyond_budget_raises(ws: Workspace, crm_ws: CrmWorkspace) -> None:
    emu = crm_ws.emulators["dv"]
    ws.query(_sql("dv"))
    _arm_after_first(emu, lambda: emu.truncate_next(10_000))
    with pytest.raises(SourceError, match=r"^source 'dv': returned truncated or invalid JSON"):
        ws.query(_sql("dv"))


def test_cli_retried_fault_prints_the_same_answer(crm_ws: CrmWorkspace) -> None:
    sql = _sql("hs")
    clean = cdp("query", "-w", str(crm_ws.root), "--format", "csv", sql, env=crm_ws.env)
    assert clean.returncode == 0, clean.stderr
    crm_ws.emulators["hs"].clear_log()
    crm_ws.emulators["hs"].fail_500(2)
    faulty = cdp("query", "-w", str(crm_ws.root), "--format", "csv", sql, env=crm_ws.env)
    assert faulty.returncode == 0 and faulty.stdout == clean.stdout and clean.stdout.count("\n") == 61
    assert [r.status for r in crm_ws.emulators["hs"].log].count(500) == 2


@pytest.mark.parametrize("fault", ["500", "429", "slow", "midstream"])
def test_cli_fault_beyond_the_budget_exits_3_naming_the_source(crm_ws: CrmWorkspace, fault: str) -> None:
    emu = crm_ws.emulators["zc"]
    arm = {"500": lambda: emu.fail_500(10_000), "429": lambda: emu.burst_429(10_000, retry_after=0),
           "slow": lambda: emu.slow(0.5)}
    if fault == "midstream":
        _arm_after_first(emu, lambda: emu.fail_500(10_000))
    else:
        arm[fault]()
    r = cdp("query", "-w", str(crm_ws.root), "--format", "csv", _sql("zc"), env=crm_ws.env)
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith("Error: source 'zc': ") and "Traceback" not in r.stderr
    assert r.stdout == "", "nothing may be printed as if it were the answer"
    assert crm_ws.env["ZC_TOKEN"] not in r.stderr
