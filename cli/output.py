"""Query output formats. Each is a contract (README "Output formats"):

- ``table``: a rich table on a terminal, a plain aligned table when piped;
- ``csv``: a header row, then one row per record (RFC 4180 quoting);
- ``json``: one JSON array of row objects, ``[{"x": 1}]``;
- ``jsonl``: one JSON object per line;
- ``parquet``: a Parquet file;
- ``arrow``: an Arrow IPC *stream* (``pyarrow.ipc.open_stream`` reads it).

Text formats stream batch by batch, so a large answer is never held twice.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cli import values
from federation.errors import UsageError

FORMATS = ("table", "csv", "json", "jsonl", "parquet", "arrow")
BINARY = ("parquet", "arrow")
TERMINAL_ROWS = 1000  # a terminal shows at most this many rows; files and pipes get all


def check_format(fmt: str, allowed: tuple[str, ...] = FORMATS) -> str:
    from federation.errors import did_you_mean

    if fmt not in allowed:
        raise UsageError(f"unknown --format '{fmt}'",
                         hint=did_you_mean(fmt, list(allowed)) or f"Use one of: {', '.join(allowed)}.")
    return fmt


@contextlib.contextmanager
def open_output(path: Path | None, binary: bool) -> Iterator[IO[Any]]:
    """The file to write (``--output``), else stdout."""
    if path is None or str(path) == "-":
        if binary and sys.stdout.isatty():
            raise UsageError("refusing to write binary output to a terminal",
                             hint="Pass --output PATH, or pipe the output into a file or program.")
        yield sys.stdout.buffer if binary else sys.stdout
        (sys.stdout.buffer if binary else sys.stdout).flush()
        return
    try:
        fh = path.open("wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""}))
    except OSError as e:
        raise UsageError(f"cannot write --output {path}: {e.strerror or e}") from None
    with fh:
        yield fh


def write(reader: Any, fmt: str, path: Path | None) -> int:
    """Write every batch of ``reader`` (a pyarrow.RecordBatchReader); return the row count."""
    with open_output(path, fmt in BINARY) as out:
        writer = {"csv": write_csv, "json": write_json, "jsonl": write_jsonl, "parquet": write_parquet,
                  "arrow": write_arrow, "table": write_table}[fmt]
        return writer(reader, out, to_terminal=path is None and sys.stdout.isatty())


def write_csv(reader: Any, out: IO[str], **_: Any) -> int:
    import csv

    w = csv.writer(out, lineterminator="\n")
    w.writerow(reader.schema.names)
    n = 0
    for batch in reader:
        for row in zip(*(c.to_pylist() for c in batch.columns)):
            w.writerow(["" if v is None else values.text(v) for v in row])
        n += batch.num_rows
    return n


def write_json(reader: Any, out: IO[str], **_: Any) -> int:
    n = 0
    out.write("[")
    for batch in reader:
        for row in values.rows(batch):
            out.write(("\n" if n == 0 else ",\n") + values.json_text(row))
            n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def write_jsonl(reader: Any, out: IO[str], **_: Any) -> int:
    n = 0
    for batch in reader:
        for row in values.rows(batch):
            out.write(values.json_text(row) + "\n")
            n += 1
    return n


def write_parquet(reader: Any, out: IO[bytes], **_: Any) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 0
    with pq.ParquetWriter(pa.PythonFile(out, mode="w"), reader.schema) as w:
        for batch in reader:
            w.write_batch(batch)
            n += batch.num_rows
    return n


def write_arrow(reader: Any, out: IO[bytes], **_: Any) -> int:
    import pyarrow as pa

    n = 0
    with pa.ipc.new_stream(pa.PythonFile(out, mode="w"), reader.schema) as w:
        for batch in reader:
            w.write_batch(batch)
            n += batch.num_rows
    return n


def write_table(reader: Any, out: IO[str], *, to_terminal: bool = False, **_: Any) -> int:
    import pyarrow as pa

    table = pa.Table.from_batches(list(reader), schema=reader.schema)
    if to_terminal:
        print_rich_table(table, limit=TERMINAL_ROWS)
    else:
        out.write(plain_table(table))
    return table.num_rows


def _cells(table: Any) -> list[list[str]]:
    cols = [c.to_pylist() for c in table.columns]
    return [["NULL" if v is None else _display(v) for v in row] for row in zip(*cols)]


def _display(v: Any) -> str:
    # tables are for reading: 15 significant digits hide binary noise (0.1 + 0.2);
    # csv and json keep every digit
    if isinstance(v, float):
        return f"{v:.15g}"
    return values.text(v)


def plain_table(table: Any) -> str:
    """Aligned columns, a rule under the header, numbers right-aligned, and a row count."""
    import pyarrow.types as pt

    names = list(table.schema.names)
    body = _cells(table)
    widths = [max([len(n)] + [len(r[i]) for r in body]) for i, n in enumerate(names)]
    right = [pt.is_integer(f.type) or pt.is_floating(f.type) or pt.is_decimal(f.type) for f in table.schema]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    lines = [line(names), "  ".join("-" * w for w in widths)] + [line(r) for r in body]
    n = table.num_rows
    lines.append(f"({n} row{'s' if n != 1 else ''})")
    return "\n".join(lines) + "\n"


def print_rich_table(table: Any, title: str | None = None, limit: int | None = None) -> None:
    import pyarrow.types as pt
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, header_style="bold", show_lines=False)
    for f in table.schema:
        numeric = pt.is_integer(f.type) or pt.is_floating(f.type) or pt.is_decimal(f.type)
        t.add_column(f.name, justify="right" if numeric else "left", overflow="fold")
    shown = table if limit is None else table.slice(0, limit)
    for row in _cells(shown):
        t.add_row(*(f"[dim]{c}[/dim]" if c == "NULL" else _escape(c) for c in row))
    console = Console(highlight=False)
    console.print(t)
    n = table.num_rows
    more = f", {shown.num_rows} shown; use --format csv or --output for all" if shown.num_rows < n else ""
    console.print(f"[dim]({n} row{'s' if n != 1 else ''}{more})[/dim]")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
