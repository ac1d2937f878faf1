"""Sync state of one audience: which keys the destination acknowledged, with which row hash.

Layout under ``<workspace>/.cdp/state/<audience>/``:

- ``snapshot.arrow``: an Arrow IPC file (key, hash, ref), the state as of the end
  of the last completed run; replaced atomically (temp file, fsync, rename, fsync
  of the folder);
- ``journal.jsonl``: one line per batch the destination acknowledged during the
  current run (``{"op": "upsert"|"delete", "rows": [[key, hash, ref], ...]}``),
  appended and fsynced before the next batch is sent. A line cut short by a crash
  is ignored (that batch was not recorded, so it is sent again: at-least-once);
- ``failed.json``: row-level errors of the last run (key → reason); those keys
  are not in the state, so the next run sends them again;
- ``logs/``: one JSON sync log per run (federation.sync.log).

Loading replays the journal over the snapshot; ``compact()`` folds it in. Both
steps are idempotent, so a crash between them loses nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from collections.abc import Callable
from typing import Any

SNAPSHOT, JOURNAL, FAILED = "snapshot.arrow", "journal.jsonl", "failed.json"


def state_dir(root: Path, audience: str) -> Path:
    return Path(root) / ".cdp" / "state" / audience


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | Callable[[Any], None]) -> None:
    """Write ``data`` (bytes, or a function writing to a binary file) to ``path`` so a
    reader sees the old or the new file, never a mix: temp file, fsync, rename, fsync folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        if callable(data):
            data(f)
        else:
            f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class SyncState:
    """Keys → (row hash, destination ref) that the destination acknowledged."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.hashes: dict[str, str] = {}
        self.refs: dict[str, str] = {}  # destination record ids (HubSpot id, Salesforce Id)
        self.failed: dict[str, str] = {}
        self.replayed = 0  # journal lines replayed at load (batches of an interrupted run)
        self.dirty = False  # changed since load: compaction has something to write
        self._journal: Any = None

    # -- loading ------------------------------------------------------------------------
    @classmethod
    def load(cls, folder: Path) -> SyncState:
        import pyarrow as pa

        st = cls(Path(folder))
        snap = st.folder / SNAPSHOT  # type: ignore[operator]
        if snap.exists():
            with pa.memory_map(str(snap)) as src:
                table = pa.ipc.open_file(src).read_all()
            keys, hashes, refs = (table.column(c).to_pylist() for c in ("key", "hash", "ref"))
            st.hashes = dict(zip(keys, hashes))
            st.refs = {k: r for k, r in zip(keys, refs) if r is not None}
        journal = st.folder / JOURNAL  # type: ignore[operator]
        if journal.exists():
            raw = journal.read_bytes()
            if raw and not raw.endswith(b"\n"):  # cut the torn tail so the next append starts a clean line
                raw = raw[: raw.rfind(b"\n") + 1]
                atomic_write(journal, raw)
            for line in raw.split(b"\n"):
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:  # torn tail of a killed run: that batch was never acknowledged here
                    continue
                st._apply(entry)
                st.replayed += 1
        failed = st.folder / FAILED  # type: ignore[operator]
        if failed.exists():
            st.failed = json.loads(failed.read_text() or "{}")
        return st

    def _apply(self, entry: dict[str, Any]) -> None:
        if entry.get("op") == "delete":
            for key, _h, _r in entry["rows"]:
                self.hashes.pop(key, None)
                self.refs.pop(key, None)
            return
        for key, h, ref in entry["rows"]:
            self.hashes[key] = h
            if ref is not None:
                self.refs[key] = ref

    # -- recording acknowledged batches ----------------------------------------------------
    def record(self, op: str, rows: list[tuple[str, str, str | None]]) -> None:
        """Apply an acknowledged batch and make it durable before returning."""
        self._apply({"op": op, "rows": rows})
        self.dirty = True
        if self.folder is None:
            return
        if self._journal is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._journal = open(self.folder / JOURNAL, "ab")
        line = json.dumps({"op": op, "rows": rows}, separators=(",", ":")).encode() + b"\n"
        self._journal.write(line)
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def compact(self) -> None:
        """Fold the journal into a new snapshot (atomic), then empty the journal."""
        import pyarrow as pa

        if self.folder is None:
            return
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if not self.dirty and not self.replayed:
            return  # nothing changed since the last snapshot
        keys = list(self.hashes)
        table = pa.table({
            "key": pa.array(keys, pa.string()),
            "hash": pa.array(self.hashes.values(), pa.string()),
            "ref": pa.array([self.refs.get(k) for k in keys] if self.refs else [None] * len(keys), pa.string()),
        })
        del keys

        def write(f: Any) -> None:
            with pa.ipc.new_file(f, table.schema) as w:
                w.write_table(table, max_chunksize=65_536)

        atomic_write(self.folder / SNAPSHOT, write)
        atomic_write(self.folder / JOURNAL, b"")
        atomic_write(self.folder / FAILED, json.dumps(self.failed, sort_keys=True, indent=1).encode())
        self.dirty = False
        self.replayed = 0

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
