"""``cdp audience sync``: read the audience, diff it against the state, deliver, record.

Modes:

- ``full``: every member is upserted; the state becomes exactly what was sent
  (members that left are forgotten, never deleted downstream);
- ``incremental`` (default): only members added or changed since the last
  successful sync (by key and row hash) are upserted; members that left are
  forgotten from the state and left alone downstream;
- ``mirror``: as incremental, plus members that left are deleted downstream
  (Salesforce delete, HubSpot list removal, ``_op: delete`` rows for files and
  webhooks) — only keys this audience itself delivered earlier, as recorded in
  its state.

``--full-resync`` re-sends every member while keeping the state's knowledge of
what was sent (so ``mirror`` can still remove what left). ``--dry-run`` reads and
diffs but sends nothing and leaves the state alone.

Delivery is at-least-once: the state advances only for acknowledged batches
(journal, fsync per batch); a run killed between batches resends at most the
batches that were not acknowledged. ``CDP_SYNC_KILL_AFTER_BATCHES=k`` makes the
process SIGKILL itself right after the k-th acknowledged batch (crash tests).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from federation.errors import CdpError, UserError
from federation.sync.diff import Change, Differ
from federation.sync.log import SyncLog
from federation.sync.state import SyncState, state_dir

if TYPE_CHECKING:
    from connectors.destinations.base import Batch, BatchResult
    from federation.workspace import Workspace
    from models.audiences import Audience

SAMPLE = 5


class Progress(Protocol):
    def rows(self, n: int) -> None: ...
    def sent(self, n: int) -> None: ...


class _NoProgress:
    def rows(self, n: int) -> None:
        pass

    def sent(self, n: int) -> None:
        pass


def run_sync(ws: Workspace, name: str, *, mode: str | None = None, dry_run: bool = False, full_resync: bool = False,
             as_of: Any = None, batch_size: int | None = None, progress: Progress | None = None) -> SyncLog:
    """Sync audience ``name``; returns the run's log (also written under the state folder)."""
    from models.audiences import MODES, get_audience

    aud = get_audience(ws, name, as_of)
    mode = mode or aud.spec.mode
    if mode not in MODES:
        raise UserError(f"unknown sync mode '{mode}'", hint=f"Modes: {', '.join(MODES)}.")
    folder = state_dir(ws.root, name)
    folder.mkdir(parents=True, exist_ok=True)
    with _lock(folder, name):
        return _Run(ws, aud, mode, dry_run, full_resync, batch_size, progress or _NoProgress()).go(folder)


class _lock:
    """One sync per audience at a time (an advisory lock on the state folder)."""

    def __init__(self, folder: Any, name: str) -> None:
        self.path, self.name, self.fd = folder / ".lock", name, -1

    def __enter__(self) -> None:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            raise UserError(f"another sync of audience {self.name} is running",
                            hint="Wait for it to finish; its state is protected by a lock.") from None

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


class _Run:
    def __init__(self, ws: Workspace, aud: Audience, mode: str, dry_run: bool, full_resync: bool,
                 batch_size: int | None, progress: Progress) -> None:
        self.ws, self.aud, self.mode, self.dry_run, self.full = ws, aud, mode, dry_run, full_resync
        self.batch_size, self.progress = batch_size, progress
        self.read: dict[str, int] = {}
        self.forget: list[Change] = []
        self.acked = 0
        self.kill_after = int(os.environ.get("CDP_SYNC_KILL_AFTER_BATCHES", "0") or 0)

    def go(self, folder: Any) -> SyncLog:
        from connectors.destinations import create_destination

        t0 = time.perf_counter()
        spec = self.aud.spec
        log = SyncLog(spec.name, self.mode, self.dry_run, started=_now(), as_of=self.aud.segment.as_of.isoformat(),
                      destination=str(spec.destination.get("type")))
        self.state = SyncState.load(folder)
        log.state = {"keys_before": len(self.state.hashes), "replayed_batches": self.state.replayed}
        self.differ = Differ(self.state.hashes, spec.key, force=self.full or self.mode == "full")
        try:
            if self.dry_run:
                self._dry(log)
            else:
                self.dest = create_destination(spec.destination, spec.name, spec.key, self.ws.root,
                                               sources=self.ws.config.sources)
                size = self.batch_size or spec.batch_size or self.dest.default_batch or self.dest.max_batch
                size = min(size, self.dest.max_batch)
                report = self.dest.write(self._batches(size), self.mode, spec.key, on_ack=self._ack)  # type: ignore[arg-type]
                for ch in self.forget:  # left the audience; not deleted downstream in this mode
                    if self.state.failed.pop(ch.key, None) is not None:
                        self.state.dirty = True
                if self.forget:
                    self.state.record("delete", [(ch.key, None, None) for ch in self.forget])
                self.state.compact()
                log.batches, log.requests, log.retries, log.splits = (report.batches, report.requests, report.retries,
                                                                       report.splits)
                log.failed = dict(report.failed)
                log.counts["delivered"] = report.delivered
            log.status = "ok"
        except BaseException as e:  # the log says why the run stopped, whatever stopped it
            log.status = "failed"
            log.error = self.ws.scrub(e.render()) if isinstance(e, CdpError) else f"interrupted: {type(e).__name__}"
            raise
        finally:
            self.state.close()
            counts = self.differ.counts.as_dict()
            counts["failed"] = len(log.failed)
            log.counts = {**counts, **log.counts}
            log.sources = {s: {"rows": n, **_snapshot(self.ws, s)} for s, n in self.read.items()}
            log.state["keys_after"] = len(self.state.hashes)
            log.finished, log.seconds = _now(), round(time.perf_counter() - t0, 3)
            if not self.dry_run or log.status == "ok":
                log.write(folder)
        return log

    def _changes(self) -> Iterator[tuple[str, Change]]:
        for rb in self.aud.batches(self.read):
            if getattr(self, "dest", None) is not None and getattr(self.dest, "schema", 0) is None:
                self.dest.schema = rb.schema  # files need the columns before the first row
            self.progress.rows(rb.num_rows)
            for ch in self.differ.feed(rb):
                yield "upsert", ch
        for ch in self.differ.removed():
            if self.mode == "mirror":
                yield "delete", ch
            else:
                self.forget.append(ch)

    def _batches(self, size: int) -> Iterator[Batch]:
        from connectors.destinations.base import Batch

        buf: list[Change] = []
        op = "upsert"
        seq = 0
        key = self.aud.spec.key
        refs = self.state.refs
        for this_op, ch in self._changes():
            if buf and (this_op != op or len(buf) >= size):
                seq += 1
                yield _batch(Batch, op, buf, key, refs, seq, self.aud.name)
                buf = []
            op = this_op
            buf.append(ch)
        if buf:
            yield _batch(Batch, op, buf, key, refs, seq + 1, self.aud.name)
        if getattr(self.dest, "schema", 0) is None:
            self.dest.schema = self.aud.schema()

    def _ack(self, batch: Batch, result: BatchResult) -> None:
        hashes = dict(zip(batch.keys, batch.hashes))
        for k, why in result.failed.items():
            self.state.failed[k] = why
        for k in result.ok:
            self.state.failed.pop(k, None)
        self.state.dirty = True
        if batch.op == "delete":
            self.state.record("delete", [(k, None, None) for k in result.ok])
        else:
            self.state.record("upsert", [(k, hashes[k], ref) for k, ref in result.ok.items()])
        self.progress.sent(len(batch.keys))
        self.acked += 1
        if self.kill_after and self.acked >= self.kill_after:
            import signal

            os.kill(os.getpid(), signal.SIGKILL)  # crash-test hook: die right after a durable ack

    def _dry(self, log: SyncLog) -> None:
        sample: dict[str, list[Any]] = {"add": [], "change": [], "remove": []}
        for op, ch in self._changes():
            bucket = sample["remove" if op == "delete" else ch.op]
            if len(bucket) < SAMPLE:
                bucket.append(ch.row if ch.row is not None else {self.aud.spec.key: ch.key})
        if self.mode != "mirror":
            sample["remove"] = []  # not sent in this mode; the count still shows them
            log.counts["removed_not_deleted"] = len(self.forget)
        log.sample = sample


def _batch(cls: Any, op: str, buf: list[Change], key: str, refs: dict[str, str], seq: int, audience: str) -> Any:
    rows = [ch.row if ch.row is not None else {key: ch.key} for ch in buf]
    return cls(op, rows, [c.key for c in buf], [c.hash for c in buf], [refs.get(c.key) for c in buf], seq, audience)


def _snapshot(ws: Workspace, source: str) -> dict[str, Any]:
    """What a source offers to identify the data read: for files, their count and latest change."""
    from pathlib import Path

    cfg = ws.config.sources.get(source)
    if cfg is None:
        return {}
    out: dict[str, Any] = {"type": cfg.type}
    path = cfg.options.get("path") if cfg.type in ("sqlite", "parquet", "csv", "jsonl") else None
    if path:
        p = Path(str(path))
        p = p if p.is_absolute() else ws.root / p
        files = [f for f in (p.rglob("*") if p.is_dir() else [p]) if f.is_file()]
        if files:
            newest = max(f.stat().st_mtime for f in files)
            out["snapshot"] = {"files": len(files),
                               "modified": dt.datetime.fromtimestamp(newest, dt.timezone.utc).isoformat()}
    return out


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
