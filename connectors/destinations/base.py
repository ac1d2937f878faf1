"""The destination protocol: where an audience's records are written.

A destination takes batches of one operation each (``upsert`` or ``delete``)
and acknowledges them; only acknowledged records advance the sync state::

    report = destination.write(batches, mode, key, on_ack=callback)

``write`` (the shared driver, in ``Destination``) sends each batch through
``send`` and, when the destination rejects a whole batch because of its content
(``BatchRejected``: a 400/422 that names no record), splits it in halves until
the bad record is isolated; that record becomes a row-level failure and every
other record is delivered. Transport errors (connection, 5xx, 429 past the retry
budget) are ``SourceError`` and stop the sync: the state then holds every batch
acknowledged so far and the next run resends the rest.

A destination whose writes only become visible at the end (files) returns
``None`` from ``send`` and acknowledges those batches from ``finish``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["upsert", "delete"]
Mode = Literal["full", "incremental", "mirror"]


@dataclass
class Batch:
    op: Op
    rows: list[dict[str, Any]]  # delivered fields (for deletes: the key only)
    keys: list[str]
    hashes: list[str]
    refs: list[str | None]  # destination record ids known from earlier syncs
    seq: int = 0
    audience: str = ""

    @property
    def idempotency_key(self) -> str:
        """The same records with the same content give the same key (safe to resend)."""
        h = hashlib.sha256(f"{self.audience}|{self.op}|".encode())
        for k, v in zip(self.keys, self.hashes):
            h.update(f"{k}\x1f{v}\x1e".encode())
        return h.hexdigest()[:32]

    def part(self, lo: int, hi: int) -> Batch:
        return Batch(self.op, self.rows[lo:hi], self.keys[lo:hi], self.hashes[lo:hi], self.refs[lo:hi], self.seq, self.audience)


@dataclass
class BatchResult:
    ok: dict[str, str | None] = field(default_factory=dict)  # key -> destination ref (record id) or None
    failed: dict[str, str] = field(default_factory=dict)  # key -> why (never the record's values)


class BatchRejected(Exception):
    """The destination refused the whole batch because of its content (4xx): split it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class WriteReport:
    batches: int = 0
    requests: int = 0
    retries: int = 0
    splits: int = 0
    delivered: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "requests": self.requests, "retries": self.retries, "splits": self.splits,
                "delivered": self.delivered, "failed": len(self.failed)}


AckCallback = Callable[[Batch, BatchResult], None]


class Destination:
    """Base class: subclasses implement ``send`` (and ``open``/``finish`` when needed)."""

    type = "destination"
    max_batch = 1000  # the most records one request may carry (the vendor's limit)
    default_batch = 0  # records per request when the audience sets no batch_size (0: max_batch)

    def open(self, mode: Mode) -> None:
        self.mode = mode

    def send(self, batch: Batch) -> BatchResult | None:
        raise NotImplementedError

    def finish(self, ok: bool) -> list[tuple[Batch, BatchResult]]:
        """Called once at the end; returns deferred acknowledgements."""
        return []

    def stats(self) -> dict[str, int]:
        """Requests and retries so far (HTTP destinations)."""
        return {"requests": 0, "retries": 0}

    def write(self, batches: Iterable[Batch], mode: Mode, key: str, on_ack: AckCallback | None = None) -> WriteReport:
        """Send every batch, splitting rejected ones; ``on_ack`` runs after each acknowledgement."""
        report = WriteReport()
        self.open(mode)
        ok = False
        try:
            for batch in batches:
                report.batches += 1
                result = self._send_split(batch, report)
                if result is not None:
                    self._ack(batch, result, report, on_ack)
            ok = True
        finally:
            deferred = self.finish(ok)
            for batch, result in deferred:
                self._ack(batch, result, report, on_ack)
            st = self.stats()
            report.requests, report.retries = st["requests"], st["retries"]
        return report

    def _ack(self, batch: Batch, result: BatchResult, report: WriteReport, on_ack: AckCallback | None) -> None:
        report.delivered += len(result.ok)
        report.failed.update(result.failed)
        if on_ack is not None:
            on_ack(batch, result)

    def _send_split(self, batch: Batch, report: WriteReport) -> BatchResult | None:
        try:
            return self.send(batch)
        except BatchRejected as e:
            if len(batch.keys) == 1:
                return BatchResult(failed={batch.keys[0]: e.reason})
            report.splits += 1
            mid = len(batch.keys) // 2
            out = BatchResult()
            for part in (batch.part(0, mid), batch.part(mid, len(batch.keys))):
                r = self._send_split(part, report)
                if r is not None:
                    out.ok.update(r.ok)
                    out.failed.update(r.failed)
            return out


def env_secret(name: str | None, what: str, dest: str) -> str | None:
    """A secret from the environment; a clear error naming the variable when unset."""
    import os

    from federation.errors import UserError

    if not name:
        return None
    value = os.environ.get(str(name))
    if not value:
        raise UserError(f"destination {dest} needs {what}, which was not found",
                        hint=f"looked for: environment variable {name} (not set). Set it and run again.")
    return value


def json_safe(row: dict[str, Any]) -> dict[str, Any]:
    """Values JSON can carry: times as ISO-8601, decimals as text, bytes as hex."""
    import datetime as dt
    import decimal

    out = {}
    for k, v in row.items():
        if isinstance(v, (dt.datetime, dt.date, dt.time)):
            v = v.isoformat()
        elif isinstance(v, decimal.Decimal):
            v = str(v)
        elif isinstance(v, (bytes, bytearray)):
            v = bytes(v).hex()
        out[k] = v
    return out
