"""Parquet, CSV and JSON-lines files (a file, a folder or a glob) as tables, via pyarrow.dataset.

Options: ``path`` (relative to the workspace, absolute allowed), ``partitioning: hive``,
``table`` (default: the file or folder stem), ``delimiter`` (CSV), or several tables at
once as ``tables: {name: {path: ..., partitioning: ..., format: ...}}``.

Pushed down: projection, exactly-translatable filters (``filters.py``; partition and
parquet row-group pruning follow from them) and LIMIT (the reader stops early).
Nothing is materialised: ``scan`` returns a streaming reader.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Capabilities, Column, NativeRequest, Pushdown, ScanRequest, TableInfo
from connectors.files.filters import to_expression
from federation.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    from sqlglot import exp

    from federation.config.model import SourceConfig

_FORMATS = {"parquet": "parquet", "csv": "csv", "jsonl": "json", "json": "json"}
_BATCH_ROWS = 65_536
# pyarrow reads 16 batches of 4 files ahead by default. On the bench's 10M events (12
# Parquet files, 2 cores), scanning name = 'purchase' (499k rows): default 0.41-0.62 s
# and 445-453 MB peak RSS; 4 batches of 2 files 0.36-0.48 s and 331-345 MB (the
# process alone: 112 MB). In the bench, alternating the two settings twice:
# selective_cross_join 0.41/0.44 s and 603/599 MB against 0.40/0.38 s and 474/456 MB;
# last_event_of_vips 0.45/0.47 s and 603/606 MB against 0.41/0.44 s and 467/468 MB.
_BATCH_READAHEAD = 4
_FILE_READAHEAD = 2
_ESTIMATE_MAX_FILES = 64  # reading more parquet footers than this is not "cheap"


@dataclass(frozen=True)
class _TableSpec:
    name: str
    path: str
    format: str  # parquet | csv | json
    partitioning: str | None


def sql_name(text: str) -> str:
    """A table name from a file stem: lower case, non-identifier characters as ``_``."""
    name = re.sub(r"\W", "_", text.lower())
    return name if name and not name[0].isdigit() else f"t_{name}"


def _default_name(path: str) -> str:
    parts = [p for p in Path(path).parts if not any(ch in p for ch in "*?[")]
    last = Path(parts[-1]) if parts else Path(path)
    stem = last.name
    for suffix in (".parquet", ".csv", ".jsonl", ".ndjson", ".json", ".gz"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return sql_name(stem or "data")


class FileConnector:
    """Files through pyarrow.dataset: projection, exact filters, limit; never joins or sorts."""

    def __init__(self, config: SourceConfig, workspace_dir: Path) -> None:
        self.name = config.name
        self.source_type = config.type
        self.config = config
        self.workspace_dir = Path(workspace_dir)
        self.capabilities = Capabilities(dialect=None, supports_projection=True, supports_filter=True,
                                         supports_limit=True)
        self._specs = self._read_specs(config)
        self._datasets: dict[str, ds.Dataset] = {}
        self._views: dict[str, frozenset[str]] = {}  # columns stored as *_view types, read as plain ones
        self._tables: dict[str, TableInfo] | None = None
        self._lock = threading.Lock()

    # -- configuration ------------------------------------------------------------
    def _read_specs(self, config: SourceConfig) -> dict[str, _TableSpec]:
        default_format = _FORMATS.get(config.type, "parquet")
        tables = config.get("tables")
        specs: dict[str, _TableSpec] = {}
        if isinstance(tables, dict) and tables:
            for name, opts in tables.items():
                opts = opts if isinstance(opts, dict) else {"path": opts}
                if not opts.get("path"):
                    raise SourceError(self.name, f"table '{name}' has no `path`",
                                      hint=f"Add `path:` under tables.{name} ({config.location}).")
                fmt = _FORMATS.get(str(opts.get("format") or default_format).lower())
                if fmt is None:
                    raise SourceError(self.name, f"table '{name}': unknown format {opts.get('format')!r}",
                                      hint="Use parquet, csv or jsonl.")
                specs[sql_name(str(name))] = _TableSpec(sql_name(str(name)), str(opts["path"]), fmt,
                                                        opts.get("partitioning"))
            return specs
        path = config.get("path")
        if not path:
            raise SourceError(self.name, "no `path` (or `tables`) given",
                              hint=f"Add `path: data/...` to the source ({config.location}).")
        name = sql_name(str(config.get("table"))) if config.get("table") else _default_name(str(path))
        specs[name] = _TableSpec(name, str(path), default_format, config.get("partitioning"))
        return specs

    def _files(self, spec: _TableSpec) -> str | list[str]:
        p = Path(spec.path)
        full = p if p.is_absolute() else self.workspace_dir / p
        if any(ch in spec.path for ch in "*?["):
            anchor = Path(full.anchor) if full.is_absolute() else self.workspace_dir
            pattern = str(full.relative_to(anchor)) if full.is_absolute() else spec.path
            found = sorted(str(f) for f in anchor.glob(pattern) if f.is_file())
            if not found:
                raise SourceError(self.name, f"no file matches '{spec.path}' (relative to {self.workspace_dir})",
                                  hint=f"Check `path` of source '{self.name}' ({self.config.location}).")
            return found
        if not full.exists():
            raise SourceError(self.name, f"file or folder '{spec.path}' does not exist (relative to {self.workspace_dir})",
                              hint=f"Check `path` of source '{self.name}' ({self.config.location}).")
        return str(full)

    def _format(self, spec: _TableSpec) -> ds.FileFormat | str:
        import pyarrow.csv as pacsv
        import pyarrow.dataset as ds

        if spec.format == "csv":
            # an unquoted empty field is NULL, a quoted one ("") the empty string: what
            # pyarrow, DuckDB and PostgreSQL's COPY ... CSV write
            convert = pacsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
            parse = pacsv.ParseOptions(delimiter=str(self.config.get("delimiter") or ","))
            return ds.CsvFileFormat(parse_options=parse, convert_options=convert)
        return spec.format

    def dataset(self, table: str) -> ds.Dataset:
        import pyarrow as pa
        import pyarrow.dataset as ds

        with self._lock:
            if table not in self._datasets:
                spec = self._specs[table]
                part = None
                if spec.partitioning:
                    if str(spec.partitioning).lower() != "hive":
                        raise SourceError(self.name, f"unknown partitioning {spec.partitioning!r}",
                                          hint="Use `partitioning: hive` or leave it out.")
                    part = ds.HivePartitioning.discover(infer_dictionary=False)
                try:
                    files, fmt = self._files(spec), self._format(spec)
                    kw: dict[str, Any] = {"format": fmt, "partitioning": part}
                    if isinstance(files, list) and part is not None:
                        kw["partition_base_dir"] = str(_glob_base(self.workspace_dir, spec.path))
                    d = ds.dataset(files, **kw)
                    plain = pa.schema([f.with_type(_plain_type(f.type)) for f in d.schema])
                    if plain != d.schema:
                        # string_view columns have no filter kernels in Acero: read them as string
                        self._views[table] = frozenset(f.name for f in d.schema if _plain_type(f.type) != f.type)
                        d = ds.dataset(files, schema=plain, **kw)
                    self._datasets[table] = d
                except (pa.ArrowInvalid, OSError) as e:
                    raise SourceError(self.name, f"cannot read '{spec.path}' as {spec.format}: {e}") from e
            return self._datasets[table]

    def _expression(self, pred: exp.Expression, info: TableInfo) -> pc.Expression | None:
        return to_expression(pred, info, self.dataset(info.name).schema, self._views.get(info.name, frozenset()))

    # -- discovery ---------------------------------------------------------------------
    def tables(self) -> list[TableInfo]:
        if self._tables is None:
            self._tables = {name: self._discover(name) for name in self._specs}
        return list(self._tables.values())

    def _info(self, table: str) -> TableInfo:
        self.tables()
        assert self._tables is not None
        if table.lower() not in self._tables:
            raise SourceError(self.name, f"no table '{table}'")
        return self._tables[table.lower()]

    def _discover(self, name: str) -> TableInfo:
        d = self.dataset(name)
        cols: list[Column] = []
        seen: set[str] = set()
        for f in d.schema:
            low = f.name.lower()
            sql = low if low not in seen else f.name
            seen.add(sql)
            cols.append(Column(name=sql, type=_sql_precision(f.type, self._specs[name].format), native_name=f.name,
                               nullable=f.nullable))
        return TableInfo(name=name, native_name=self._specs[name].path, columns=tuple(cols),
                         row_estimate=self._estimate(d))

    @staticmethod
    def _estimate(d: ds.Dataset) -> int | None:
        import pyarrow.dataset as ds

        if not isinstance(d, ds.FileSystemDataset) or not isinstance(d.format, ds.ParquetFileFormat):
            return None
        if len(d.files) > _ESTIMATE_MAX_FILES:
            return None
        try:
            return sum(frag.metadata.num_rows for frag in d.get_fragments())
        except Exception:  # a footer we cannot read: no estimate, the scan will say why
            return None

    # -- pushdown ----------------------------------------------------------------------
    def classify(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        return "exact" if self._expression(predicate, table) is not None else "unsupported"

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        return False

    def _filter(self, request: ScanRequest, info: TableInfo) -> pc.Expression | None:
        schema = self.dataset(info.name).schema
        out = None
        for pred in request.filters:
            e = self._expression(pred, info)
            if e is None:  # the planner only sends what classify() took: a bug upstream
                raise SourceError(self.name, f"filter cannot run on files: {pred.sql(dialect='postgres')}")
            out = e if out is None else out & e
        kf = request.key_filter
        if kf is not None and info.column(kf.column) is not None:
            key = self._key_filter(kf.column, kf.keys, info, schema, self._views.get(info.name, frozenset()))
            if key is not None:
                out = key if out is None else out & key
        return out

    @staticmethod
    def _key_filter(column: str, keys: pa.Array, info: TableInfo, schema: pa.Schema,
                    views: frozenset[str]) -> pc.Expression | None:
        """Dynamic filter: a hint only, so a key set that does not cast is simply ignored."""
        import pyarrow as pa
        import pyarrow.compute as pc

        native = info.column(column).native_name  # type: ignore[union-attr]
        target = schema.field(native).type
        same_kind = keys.type == target or all(
            f(keys.type) == f(target) for f in (pa.types.is_integer, pa.types.is_string))
        if not same_kind or not (pa.types.is_integer(target) or pa.types.is_string(target) or keys.type == target):
            return None  # across kinds the join's own cast decides what matches ("03" vs 3)
        try:
            values = keys.cast(target).drop_null()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        field = pc.field(native).cast(values.type) if native in views else pc.field(native)
        return pc.is_in(field, value_set=values)

    def _columns(self, request: ScanRequest, info: TableInfo) -> list[str]:
        out = []
        for c in request.columns:
            col = info.column(c)
            if col is None:
                raise SourceError(self.name, f"table '{info.name}' has no column '{c}'")
            out.append(col.native_name)
        return out

    # -- fetch -------------------------------------------------------------------------
    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        import pyarrow as pa

        if request.query is not None or request.table is None:
            raise SourceError(self.name, "files take table scans only, not whole queries")
        info = self._info(request.table)
        names = list(request.output_names) or list(request.columns)
        try:
            scanner = _only_files(self.dataset(info.name), request.partition).scanner(
                columns=self._columns(request, info), filter=self._filter(request, info), batch_size=_BATCH_ROWS,
                batch_readahead=_BATCH_READAHEAD, fragment_readahead=_FILE_READAHEAD)
            reader = scanner.to_reader()
        except (pa.ArrowInvalid, OSError) as e:
            raise SourceError(self.name, f"reading '{self._specs[info.name].path}' failed: {e}") from e
        want = [info.column(c).type for c in request.columns]  # type: ignore[union-attr]
        schema = pa.schema([f.with_name(n).with_type(t) for f, n, t in zip(reader.schema, names, want)])
        return pa.RecordBatchReader.from_batches(schema, _limited(reader, schema, request.limit))

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        if request.table is None:
            return []
        info = self._info(request.table)
        spec = self._specs[info.name]
        expr = self._filter(request, info)
        detail: dict[str, Any] = {
            "path": spec.path,
            "format": "jsonl" if spec.format == "json" else spec.format,
            "columns": self._columns(request, info),
            "filter": str(expr) if expr is not None else None,
            "limit": request.limit,
        }
        detail.update(self._pruning(info.name, expr))
        return [NativeRequest(kind="file", path=spec.path, detail=detail)]

    def _pruning(self, table: str, expr: pc.Expression | None) -> dict[str, Any]:
        """Files (and parquet row groups) left after pruning, when counting them is cheap."""
        import pyarrow.dataset as ds

        d = self.dataset(table)
        if not isinstance(d, ds.FileSystemDataset):
            return {}
        out: dict[str, Any] = {"files_total": len(d.files)}
        frags = list(d.get_fragments(filter=expr) if expr is not None else d.get_fragments())
        out["files"] = len(frags)
        if isinstance(d.format, ds.ParquetFileFormat) and len(frags) <= _ESTIMATE_MAX_FILES:
            try:
                out["row_groups"] = sum(len(f.split_by_row_group(expr, schema=d.schema)) if expr is not None else f.num_row_groups
                                        for f in frags)
            except Exception:  # statistics unreadable: the count is only informative
                pass
        return out

    def check(self) -> None:
        for name in self._specs:
            self.dataset(name).schema  # noqa: B018 - opening the dataset is the check

    def close(self) -> None:
        with self._lock:
            self._datasets.clear()


def _glob_base(workspace_dir: Path, pattern: str) -> Path:
    """The folder above a glob's first wildcard: where hive key=value folders start."""
    p = Path(pattern)
    full = p if p.is_absolute() else workspace_dir / p
    parts = []
    for part in full.parts:
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return Path(*parts)


def _plain_type(t: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    if pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_binary_view(t):
        return pa.binary()
    return t


def _sql_precision(t: pa.DataType, fmt: str) -> pa.DataType:
    """Timestamps parsed from text come as nanoseconds; PostgreSQL keeps microseconds."""
    import pyarrow as pa

    if fmt != "parquet" and pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", tz=t.tz)
    return t


def _only_files(d: ds.Dataset, partition: object | None) -> ds.Dataset:
    """The dataset restricted to a FilePartition's files (a partitioned read)."""
    files = getattr(partition, "files", None)
    if files is None:
        return d
    import pyarrow.dataset as pds

    wanted = set(files)
    frags = [f for f in d.get_fragments() if f.path in wanted]
    return pds.FileSystemDataset(frags, d.schema, d.format, d.filesystem)


def _limited(reader: pa.RecordBatchReader, schema: pa.Schema, limit: int | None) -> Iterator[pa.RecordBatch]:
    """Rename, bring to the discovered types, and stop after ``limit`` rows (pyarrow has no limit node)."""
    names = schema.names
    left = limit
    try:
        for batch in reader:
            if left is not None:
                if left <= 0:
                    break
                if batch.num_rows > left:
                    batch = batch.slice(0, left)
                left -= batch.num_rows
            batch = batch.rename_columns(names)
            yield batch if batch.schema == schema else batch.cast(schema, safe=False)
    finally:
        reader.close()
