"""A sync killed between batches, and one killed mid-request (real subprocesses, SIGKILL):
the re-run delivers every row at least once, resends at most the unacknowledged batch,
with the same idempotency key, and leaves a consistent state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from federation import Workspace
from federation.sync.state import SyncState, state_dir
from tests.sync.helpers import Receiver, workspace

REPO = Path(__file__).parents[2]
AUD = """
audiences:
  hook:
    segment: everyone
    key: customer_id
    fields: [customer_id, email, country]
    batch_size: 20
    destination: {{type: webhook, url: "{url}", auth_env: HOOK_TOKEN}}
"""


def _cmd(root: Path) -> list[str]:
    return [sys.executable, "-m", "tests.sync.cliapp", "--workspace", str(root), "audience", "sync", "hook", "--quiet"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CDP_SYNC_KILL_AFTER_BATCHES"}
    return env | {"HOOK_TOKEN": "crash-test-token"} | extra


def _check_state(root: Path) -> None:
    state = SyncState.load(state_dir(root, "hook"))
    with Workspace.load(root) as ws:
        want = ws.audience("hook").diff({}).hashes
    assert state.hashes == want  # every member, with the hash of what was delivered
    assert state.failed == {}


def test_killed_between_batches_resends_nothing_acknowledged(tmp_path: Path) -> None:
    with Receiver() as rx:
        root = workspace(tmp_path, AUD.format(url=rx.url))
        out = subprocess.run(_cmd(root), env=_env(CDP_SYNC_KILL_AFTER_BATCHES="3"), cwd=REPO, capture_output=True, timeout=60)
        assert out.returncode == -signal.SIGKILL, out.stderr.decode()
        assert len(rx.accepted) == 3
        half = SyncState.load(state_dir(root, "hook"))
        assert len(half.hashes) == 60 and half.replayed == 3  # the journal holds the 3 acknowledged batches
        out = subprocess.run(_cmd(root), env=_env(), cwd=REPO, capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr.decode()
        assert "90 added, 0 changed, 0 removed, 60 unchanged" in out.stdout.decode()
        got = rx.delivered("customer_id")
        assert sorted(got) == list(range(1, 151))  # every row exactly once
    _check_state(root)


def test_killed_mid_request_resends_only_that_batch(tmp_path: Path) -> None:
    with Receiver() as rx:
        rx.gate, rx.hold_at = threading.Event(), 3
        root = workspace(tmp_path, AUD.format(url=rx.url))
        proc = subprocess.Popen(_cmd(root), env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert rx.holding.wait(60), "the fourth batch never arrived"
            proc.kill()  # SIGKILL while batch 4 is in flight, before any acknowledgement
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        rx.gate.set()
        assert proc.returncode == -signal.SIGKILL
        assert len(SyncState.load(state_dir(root, "hook")).hashes) == 60
        held = rx.requests[3]["body"]
        out = subprocess.run(_cmd(root), env=_env(), cwd=REPO, capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr.decode()
        got = rx.delivered("customer_id")
        assert set(got) == set(range(1, 151))  # at least once
        dupes = sorted(k for k in set(got) if got.count(k) > 1)
        assert dupes == sorted(r["customer_id"] for r in held["records"])  # only the unacknowledged batch
        resent = [q for q in rx.requests[4:] if q["body"]["batch_id"] == held["batch_id"]]
        assert len(resent) == 1  # same content, same idempotency key: the receiver can drop it
    _check_state(root)


@pytest.mark.parametrize("torn", [b'{"op":"upsert","rows":[["x","h",null]', b"\x00\x00"])
def test_a_torn_journal_line_is_ignored(tmp_path: Path, torn: bytes) -> None:
    folder = tmp_path / "st"
    st = SyncState.load(folder)
    st.record("upsert", [("a", "h1", None), ("b", "h2", "ref-b")])
    st.close()
    with open(folder / "journal.jsonl", "ab") as f:
        f.write(torn)
    again = SyncState.load(folder)
    assert again.hashes == {"a": "h1", "b": "h2"} and again.refs == {"b": "ref-b"} and again.replayed == 1
    again.record("delete", [("a", None, None)])  # appended after the cut, on a line of its own
    again.close()
    assert SyncState.load(folder).hashes == {"b": "h2"}
    again.compact()
    final = SyncState.load(folder)
    assert final.hashes == {"b": "h2"} and final.replayed == 0
    assert sorted(p.name for p in folder.iterdir()) == ["failed.json", "journal.jsonl", "snapshot.arrow"]
