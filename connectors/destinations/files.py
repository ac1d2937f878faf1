"""CSV and Parquet file destinations.

``path`` (relative to the workspace) receives the run's records. In ``full`` mode
the file is the whole audience; in ``incremental`` and ``mirror`` modes it holds
the run's changes with an ``_op`` column (``upsert`` / ``delete``; deletes carry
only the key). Rows go to a temporary file next to ``path`` that is fsynced and
renamed over ``path`` when the run ends, so readers never see half a file; the
batches are acknowledged at that moment (a killed run leaves the old file and
resends everything next time).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from connectors.destinations.base import Batch, BatchResult, Destination, Mode


class FileDestination(Destination):
    max_batch = 10_000

    def __init__(self, path: Path, fmt: str, schema: Any = None) -> None:
        self.path, self.fmt, self.schema = Path(path), fmt, schema
        self.type = fmt
        self._writer: Any = None
        self._pending: list[tuple[Batch, BatchResult]] = []
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")

    def open(self, mode: Mode) -> None:
        super().open(mode)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _out_schema(self) -> Any:
        import pyarrow as pa

        schema = self.schema
        if self.mode != "full":
            schema = schema.append(pa.field("_op", pa.string()))
        return schema

    def _open_writer(self) -> None:
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(str(self._tmp), self._out_schema())
        else:
            import pyarrow.csv as pcsv

            self._writer = pcsv.CSVWriter(str(self._tmp), self._out_schema())

    def send(self, batch: Batch) -> BatchResult | None:
        import pyarrow as pa

        if self._writer is None:
            self._open_writer()
        schema = self._out_schema()
        if batch.op == "delete":  # keys are text in the state: cast back to the key column's type
            key = next(iter(batch.rows[0]))
            cols = {f.name: pa.nulls(len(batch.keys), f.type) for f in schema}
            cols[key] = pa.array(batch.keys, pa.string()).cast(schema.field(key).type)
            cols["_op"] = pa.array(["delete"] * len(batch.keys), pa.string())
            table = pa.table(cols, schema=schema)
        else:
            rows = batch.rows if self.mode == "full" else [dict(r, _op=batch.op) for r in batch.rows]
            table = pa.Table.from_pylist(rows, schema=schema)
        self._writer.write_table(table)
        self._pending.append((batch, BatchResult(ok={k: None for k in batch.keys})))
        return None

    def finish(self, ok: bool) -> list[tuple[Batch, BatchResult]]:
        if self._writer is None and ok:
            self._open_writer()  # an empty run still writes a file with the header
        if self._writer is not None:
            self._writer.close()
        if not ok:
            self._tmp.unlink(missing_ok=True)
            return []
        with open(self._tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self._tmp, self.path)
        return self._pending
