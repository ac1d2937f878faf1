"""The JSON log of one sync run, and its one-paragraph summary.

Written to ``<workspace>/.cdp/state/<audience>/logs/<UTC time>-<mode>.json``::

    {"audience": "churn", "mode": "incremental", "dry_run": false, "status": "ok",
     "started": "...", "finished": "...", "seconds": 1.2, "as_of": "...",
     "counts": {"read": 0, "added": 0, "changed": 0, "unchanged": 0, "removed": 0,
                "failed": 0, "no_key": 0, "duplicate_keys": 0, "delivered": 0},
     "batches": 0, "requests": 0, "retries": 0, "splits": 0,
     "sources": {"shop": {"rows": 0}},
     "state": {"keys_before": 0, "keys_after": 0, "replayed_batches": 0},
     "failed": {"<key>": "<why>"}, "error": null}

``failed`` names the keys that failed and why (the log stays in the workspace;
the printed summary shows counts only, never customer data).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from federation.sync.state import atomic_write


@dataclass
class SyncLog:
    audience: str
    mode: str
    dry_run: bool = False
    status: str = "running"
    started: str = ""
    finished: str = ""
    seconds: float = 0.0
    as_of: str = ""
    destination: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    requests: int = 0
    retries: int = 0
    splits: int = 0
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    sample: dict[str, list[Any]] = field(default_factory=dict)  # dry runs: what would change
    error: str | None = None
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("path")
        if not self.dry_run:
            out.pop("sample")
        return out

    def write(self, folder: Path) -> Path:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = folder / "logs" / f"{stamp}-{self.mode}{'-dry-run' if self.dry_run else ''}.json"
        atomic_write(path, json.dumps(self.as_dict(), indent=1, default=str).encode())
        self.path = str(path)
        return path

    def summary(self) -> str:
        c = self.counts
        verb = "would send" if self.dry_run else "sent"
        head = (f"audience {self.audience} ({self.mode}{', dry run' if self.dry_run else ''}, {self.destination}): "
                f"{c.get('added', 0)} added, {c.get('changed', 0)} changed, {c.get('removed', 0)} removed, "
                f"{c.get('unchanged', 0)} unchanged, {c.get('failed', 0)} failed")
        lines = [head]
        if not self.dry_run:
            lines.append(f"  {verb} {c.get('delivered', 0)} records in {self.batches} batches "
                         f"({self.requests} requests, {self.retries} retries, {self.splits} splits) in {self.seconds:.2f} s")
        read = ", ".join(f"{s}: {v.get('rows', 0)} rows" for s, v in sorted(self.sources.items()))
        if read:
            lines.append(f"  read {read}")
        if c.get("no_key") or c.get("duplicate_keys"):
            lines.append(f"  skipped {c.get('no_key', 0)} rows without a key; {c.get('duplicate_keys', 0)} duplicate keys")
        if self.failed:
            reasons: dict[str, int] = {}
            for why in self.failed.values():
                # only our own prefix (vendor and code): the destination's text stays in the JSON log
                short = why.split(": ", 1)[0]
                reasons[short] = reasons.get(short, 0) + 1
            for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
                lines.append(f"  {n} failed: {why}")
            lines.append("  failed records (keys and reasons in the log) are retried on the next run")
        if self.path:
            lines.append(f"  log: {self.path}")
        return "\n".join(lines)
