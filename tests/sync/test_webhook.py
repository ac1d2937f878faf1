"""Webhook syncs against a loopback receiver: 500s, 429, a rejected batch split to one bad record,
row-level errors retried next run, idempotency keys, modes, dry runs, the JSON log."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from federation import SourceError, UserError, Workspace
from federation.sync.runner import run_sync
from federation.sync.state import SyncState, state_dir
from tests.segments import data
from tests.sync.helpers import Receiver, workspace

BAD = "user77@example.com"
ROW_BAD = "user88@example.com"


def _aud(url: str, budget: float = 20) -> str:
    return f"""
    audiences:
      hook:
        segment: everyone
        key: email
        fields: [email, country, ltv]
        batch_size: 20
        destination: {{type: webhook, url: "{url}", auth_env: HOOK_TOKEN, retry_budget: {budget}}}
    """


def _script(n: int, body: dict[str, Any]) -> Any:
    emails = [r["email"] for r in body["records"]]
    if n == 0:
        return 500, {"error": "boom"}, {}
    if n == 2:
        return 429, {}, {"Retry-After": "0"}
    if BAD in emails:
        return 422, {"code": "INVALID_RECORD"}, {}
    if ROW_BAD in emails:
        return 200, {"errors": [{"key": ROW_BAD, "message": "mailbox unknown"}]}, {}
    return None


def test_webhook_sync_retries_splits_and_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cret-token")
    with Receiver(_script) as rx:
        root = workspace(tmp_path, _aud(rx.url))
        with Workspace.load(root) as ws:
            log = run_sync(ws, "hook")
        # every record but the two bad ones arrived, each exactly once
        got = rx.delivered("email")
        everyone = {c["email"] for c in data.customers()}
        assert len(got) == len(set(got)) and set(got) == everyone - {BAD}  # ROW_BAD arrived but was refused
        assert log.counts["added"] == 150 and log.counts["failed"] == 2 and log.counts["delivered"] == 148
        assert log.retries >= 2 and log.splits >= 4  # 500 and 429 retried; 20 → 10 → 5 → 3 → 2 → 1
        assert set(log.failed) == {BAD, ROW_BAD} and "422" in log.failed[BAD] and "mailbox unknown" in log.failed[ROW_BAD]
        first = rx.requests[1]
        assert first["headers"]["authorization"] == "Bearer s3cret-token"
        assert first["headers"]["idempotency-key"] == first["body"]["batch_id"] and len(first["body"]["batch_id"]) == 32
        assert first["body"]["op"] == "upsert" and first["body"]["key"] == "email"
        state = SyncState.load(state_dir(root, "hook"))
        assert len(state.hashes) == 148 and set(state.failed) == {BAD, ROW_BAD}
        doc = json.loads(Path(log.path).read_text())
        assert doc["counts"]["failed"] == 2 and doc["status"] == "ok"
        assert doc["sources"]["shop"]["rows"] == 150 and doc["sources"]["shop"]["snapshot"]["files"] == 1
        assert "s3cret" not in Path(log.path).read_text()

        # the next run retries only the failed records
        n = len(rx.requests)
        with Workspace.load(root) as ws:
            log2 = run_sync(ws, "hook")
        sent = [r["email"] for q in rx.requests[n:] for r in q["body"]["records"]]
        assert set(sent) == {BAD, ROW_BAD} and log2.counts["added"] == 2 and log2.counts["unchanged"] == 148

        # once the receiver takes them, the state is complete and nothing is failed
        rx.script = None
        with Workspace.load(root) as ws:
            log3 = run_sync(ws, "hook")
            log4 = run_sync(ws, "hook")
        assert log3.counts["delivered"] == 2 and log3.failed == {}
        assert log4.counts["unchanged"] == 150 and log4.batches == 0
        state = SyncState.load(state_dir(root, "hook"))
        assert len(state.hashes) == 150 and state.failed == {}
        with Workspace.load(root) as ws:  # the pull API diffs against the same state
            d = ws.audience("hook").diff(state_dir(root, "hook"))
        assert (d.counts.unchanged, d.added.num_rows, d.changed.num_rows, d.removed) == (150, 0, 0, [])


def test_modes_dry_run_and_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "t0ken-value")
    with Receiver() as rx:
        root = workspace(tmp_path, _aud(rx.url))
        with Workspace.load(root) as ws:
            dry = run_sync(ws, "hook", dry_run=True)
        assert rx.requests == [] and dry.counts["added"] == 150 and len(dry.sample["add"]) == 5
        assert not (state_dir(root, "hook") / "snapshot.arrow").exists()
        with Workspace.load(root) as ws:
            run_sync(ws, "hook")
        con = sqlite3.connect(root / "data" / "shop.db")
        con.execute("DELETE FROM customers WHERE customer_id IN (1, 2)")
        con.execute("UPDATE customers SET country = 'JP' WHERE customer_id = 3")
        con.execute("INSERT INTO customers (customer_id, email) VALUES (500, 'new@x.com')")
        con.commit()
        con.close()
        with Workspace.load(root) as ws:
            dry = run_sync(ws, "hook", mode="mirror", dry_run=True)
            assert (dry.counts["added"], dry.counts["changed"], dry.counts["removed"]) == (1, 1, 2)
            assert sorted(r["email"] for r in dry.sample["remove"]) == ["user1@example.com", "user2@example.com"]
            n = len(rx.requests)
            log = run_sync(ws, "hook", mode="mirror")
        bodies = [q["body"] for q in rx.requests[n:]]
        assert [b["op"] for b in bodies] == ["upsert", "delete"]
        assert sorted(r["email"] for r in bodies[0]["records"]) == ["new@x.com", "user3@example.com"]
        assert sorted(r["email"] for r in bodies[1]["records"]) == ["user1@example.com", "user2@example.com"]
        assert log.counts["removed"] == 2
        # full mode resends every member; incremental then has nothing to do
        with Workspace.load(root) as ws:
            full = run_sync(ws, "hook", mode="full")
            again = run_sync(ws, "hook", full_resync=True)
            idle = run_sync(ws, "hook")
        assert full.counts["delivered"] == 149 and again.counts["delivered"] == 149 and idle.batches == 0
        keys = [q["body"]["batch_id"] for q in rx.requests[-16:]]
        assert keys[:8] == keys[8:]  # the same content resent carries the same idempotency keys


def test_missing_credential_and_exhausted_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    with Receiver(lambda n, b: (503, {}, {})) as rx:
        root = workspace(tmp_path, _aud(rx.url, 0.5))
        with Workspace.load(root) as ws, pytest.raises(UserError, match="environment variable HOOK_TOKEN"):
            run_sync(ws, "hook")
        monkeypatch.setenv("HOOK_TOKEN", "tok-tok-tok")
        with Workspace.load(root) as ws, pytest.raises(SourceError, match="503") as e:
            run_sync(ws, "hook")
        assert "webhook:hook" in e.value.render()
    logs = sorted((state_dir(root, "hook") / "logs").glob("*.json"))
    assert json.loads(logs[-1].read_text())["status"] == "failed"
    assert SyncState.load(state_dir(root, "hook")).hashes == {}
