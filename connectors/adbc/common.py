"""What every ADBC SQL source shares: discovery cache, pushdown checks, connections, streaming.

Dialect modules (``sqlite.py``, ``postgres.py``, ``generic.py``) supply how to
connect, how to discover tables, and how result columns come back from their
driver; ``render.py`` turns requests into SQL (from sqlglot ASTs only).

Connections: ADBC's threadsafety is 1, so a connection serves one scan at a time
(fragments run on parallel threads). Idle connections are kept in a small pool;
one goes back only after its result was read to the end.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from connectors.adbc.allowlist import disallowed
from connectors.adbc.render import RenderError, SqlRendering
from connectors.base import Capabilities, Pushdown, ScanRequest, TableInfo
from federation.errors import CdpError, SourceError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

    from federation.config.model import SourceConfig

_KEY_LIST_MAX = 1000  # drivers without array binding: a longer key list is not inlined as literals (it is only a hint)
_POOL_MAX = 4  # idle connections kept per source


class AdbcConnector(SqlRendering):
    """Base of the SQL connectors. Subclasses set ``dialect`` and the hooks marked below."""

    dialect = "postgres"
    supports_windows = True
    skip_rows = 0  # leading rows wrap_sql adds (type sentinels) that the reader drops
    key_list_max = _KEY_LIST_MAX  # dynamic key filters up to this many keys are sent (see keys.py)
    allow_list = "generic"  # which allowlist.DIALECTS entry decides pushdown (not the sqlglot dialect)
    explain_probe = False  # EXPLAIN each whole query before accepting it (option `probe: false` turns it off)

    def __init__(self, config: SourceConfig, workspace_dir: Path) -> None:
        self.name = config.name
        self.source_type = config.type
        self.config = config
        self.workspace_dir = Path(workspace_dir)
        self.dialect = str(config.get("dialect") or self.dialect)
        self.capabilities = Capabilities(
            dialect=self.dialect, supports_order=True, supports_aggregation=True, supports_joins=True,
            supports_windows=self.supports_windows, max_in_list=self.key_list_max,
        )
        self._tables: dict[str, TableInfo] | None = None
        # idle connections: connecting to PostgreSQL costs ~40 ms, a query ~1 ms. A
        # connection serves one thread at a time (threadsafety 1) and returns here
        # only after its result was read to the end and its transaction ended.
        self._idle: list[Any] = []
        self._pool_lock = threading.Lock()
        self._probed: dict[str, bool] = {}

    # -- hooks ---------------------------------------------------------------------------
    def connect(self) -> Any:
        """A new DB-API connection (subclass)."""
        raise NotImplementedError

    def discover(self, conn: Any) -> list[TableInfo]:
        """Every table the source has, before the ``tables`` option narrows them (subclass)."""
        raise NotImplementedError

    def check_predicate(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        return "exact"

    def check_query(self, query: exp.Expression) -> bool:
        return True

    def execute(self, cursor: Any, sql: str, params: pa.RecordBatch | None = None) -> None:
        """Run ``sql``; ``params``: one row, one column per placeholder (keys.parameters)."""
        cursor.execute(sql, parameters=params)

    def explain(self, cursor: Any, sql: str) -> None:
        self.execute(cursor, f"EXPLAIN {sql}")  # sql was generated from an AST, never user text

    def convert(self, batch: pa.RecordBatch, types: list[pa.DataType | None]) -> pa.RecordBatch:
        return batch

    def finish(self, conn: Any, cursor: Any) -> None:
        """After a scan's reader is drained or abandoned."""

    # -- errors ----------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """Remove secrets (the URI, passwords) from a driver's message."""
        secrets = set(self.config.secret_values)
        for k in self.config.secret_keys:
            v = self.config.get(k)
            if isinstance(v, str) and v:
                secrets.add(v)
        for v in list(secrets):
            secrets |= _uri_parts(v)
        for s in sorted(secrets, key=len, reverse=True):
            if s:
                text = text.replace(s, "[secure]")
        return text

    def error(self, e: BaseException, action: str, *, retriable: bool = False) -> SourceError:
        state = getattr(e, "sqlstate", None)
        msg = _without_query(self.scrub(str(e))).strip()
        if state and str(state) not in msg:
            msg += f" (SQLSTATE {state})"
        return SourceError(self.name, f"{action} failed: {type(e).__name__}: {msg}", retriable=retriable)

    def open(self) -> Any:
        try:
            return self.connect()
        except CdpError:
            raise
        except Exception as e:
            raise self.error(e, "connecting", retriable=True) from e

    # -- discovery ---------------------------------------------------------------------------
    def tables(self) -> list[TableInfo]:
        if self._tables is None:
            conn = self.open()
            try:
                found = self.discover(conn)
            except CdpError:
                raise
            except Exception as e:
                raise self.error(e, "schema discovery") from e
            finally:
                conn.close()
            self._tables = {t.name: t for t in self._narrow(found)}
        return list(self._tables.values())

    def _narrow(self, found: list[TableInfo]) -> list[TableInfo]:
        wanted = self.config.get("tables")
        if not wanted:
            return found
        names = list(wanted) if isinstance(wanted, (list, tuple, dict)) else [wanted]
        by_name = {t.name: t for t in found} | {t.native_name: t for t in found}
        out = []
        for n in names:
            t = by_name.get(str(n)) or by_name.get(str(n).lower())
            if t is None:
                hint = did_you_mean(str(n), [t.name for t in found])
                raise SourceError(self.name, f"table '{n}' (listed in `tables`) does not exist",
                                  hint=hint or f"Tables found: {', '.join(sorted(t.name for t in found)) or '(none)'}.")
            out.append(t)
        return out

    def info(self, name: str) -> TableInfo:
        self.tables()
        assert self._tables is not None
        t = self._tables.get(name.lower())
        if t is None:
            raise RenderError(f"unknown table {name}")
        return t

    # -- pushdown ------------------------------------------------------------------------------
    def classify(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        if disallowed(predicate, self.allow_list) is not None:
            return "unsupported"
        for c in predicate.find_all(exp.Column):
            if table.column(c.name) is None:
                return "unsupported"
        return self.check_predicate(predicate, table)

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        if disallowed(query, self.allow_list) is not None:
            return False
        if not self.capabilities.supports_windows and query.find(exp.Window) is not None:
            return False
        try:
            typed = self._annotated(query)
            if not self.check_query(typed[0]):
                return False
            # render types the query too: hand it this typing (neither changes it) instead
            # of a second annotate_types, the costliest step of planning a pushed query
            sql = self.render(ScanRequest(output_names=tuple(query.named_selects), query=query), typed).sql
        except (RenderError, SourceError):
            return False
        except Exception:  # sqlglot could not type or render it: not pushed, the engine runs it
            return False
        return self.probe(sql)

    def probe(self, sql: str) -> bool:
        """Does the source compile ``sql``? (EXPLAIN: catches what the allow-list missed.)"""
        if not self.explain_probe or self.config.get("probe") is False:
            return True
        with self._pool_lock:
            if sql in self._probed:
                return self._probed[sql]
        try:
            conn, _ = self._acquire()
        except CdpError:
            return True  # unreachable: the scan will report it properly
        cur = None
        try:
            cur = conn.cursor()
            self.explain(cur, sql)
            cur.fetchall()
            ok = True
        except Exception:
            self._close(conn, cur)
            ok = False
        else:
            self._release(conn, cur)
        with self._pool_lock:
            if len(self._probed) < 512:
                self._probed[sql] = ok
        return ok

    # -- fetch -----------------------------------------------------------------------------------
    def _acquire(self) -> tuple[Any, bool]:
        with self._pool_lock:
            if self._idle:
                return self._idle.pop(), True
        return self.open(), False

    def _release(self, conn: Any, cursor: Any) -> None:
        """End the transaction and keep the connection for the next scan, or close it."""
        try:
            self.finish(conn, cursor)
            cursor.close()
        except Exception:  # a broken connection is not reused
            self._close(conn, None)
            return
        with self._pool_lock:
            if len(self._idle) < _POOL_MAX:
                self._idle.append(conn)
                return
        self._close(conn, None)

    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        import pyarrow as pa

        from connectors.adbc.keys import parameters

        rendered = self._render_or_fail(request)
        sql, types, params = rendered.sql, rendered.types, parameters(rendered.params)
        names = list(request.output_names)
        for attempt in (0, 1):
            conn, pooled = self._acquire()
            cursor = None
            try:
                cursor = conn.cursor()
                self.execute(cursor, sql, params)
                reader = cursor.fetch_record_batch()
                break
            except Exception as e:
                self._close(conn, cursor)
                if isinstance(e, CdpError):
                    raise
                if pooled and attempt == 0:
                    continue  # an idle connection may have gone stale: once more on a fresh one
                raise self.error(e, "query") from e
        batches = self._stream(conn, cursor, reader, names, types)
        try:
            first = next(batches)
        except StopIteration:
            empty = self.convert(pa.RecordBatch.from_pylist([], schema=reader.schema), types)
            schema = _renamed(empty.schema, names)
            return pa.RecordBatchReader.from_batches(schema, iter(()))
        return pa.RecordBatchReader.from_batches(first.schema, _chain(first, batches))

    def _stream(self, conn: Any, cursor: Any, reader: pa.RecordBatchReader, names: list[str],
                types: list[pa.DataType | None]) -> Iterator[pa.RecordBatch]:
        skip = self.skip_rows
        drained = False
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    drained = True
                    return
                except Exception as e:
                    raise self.error(e, "reading results") from e
                if skip:
                    cut = min(skip, batch.num_rows)
                    batch, skip = batch.slice(cut), skip - cut
                    if batch.num_rows == 0:
                        continue
                yield self.convert(batch, types).rename_columns(names)
        finally:
            if drained:
                self._release(conn, cursor)
            else:  # abandoned or failed mid-stream: the connection's state is unknown
                self._close(conn, cursor)

    def _close(self, conn: Any, cursor: Any) -> None:
        try:
            self.finish(conn, cursor)
        except Exception:  # the connection is discarded anyway; a failed ROLLBACK changes nothing
            pass
        for c in (cursor, conn):
            try:
                if c is not None:
                    c.close()
            except Exception:  # closing twice or after a broken connection
                pass

    def check(self) -> None:
        conn, _ = self._acquire()
        cur = None
        try:
            cur = conn.cursor()
            self.execute(cur, "SELECT 1")
            cur.fetchall()
        except Exception as e:
            self._close(conn, cur)
            if isinstance(e, CdpError):
                raise
            raise self.error(e, "check query") from e
        self._release(conn, cur)

    def close(self) -> None:
        self._tables = None
        with self._pool_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            self._close(conn, None)


_QUERY_ECHOES = (
    # drivers repeat the SQL they ran, literals (customer data) included: keep only their own words
    (re.compile(r"Query was: .*?(?=\. SQLSTATE|\Z)", re.S), "Query was: [query omitted]"),
    (re.compile(r"query '.*?': (?=ERROR)", re.S), "query: "),
    (re.compile(r"\n\s*query: .*", re.S), ""),
)


def _without_query(text: str) -> str:
    for pattern, repl in _QUERY_ECHOES:
        text = pattern.sub(repl, text)
    return text


def _uri_parts(value: str) -> set[str]:
    """A URI's password and user-info, which a driver may echo without the rest of the URI."""
    from urllib.parse import unquote, urlsplit

    if "://" not in value:
        return set()
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return set()
    out = {parts.netloc.rsplit("@", 1)[0]} if "@" in parts.netloc else set()
    if password:
        out |= {password, unquote(password)}
    return {p for p in out if len(p) >= 3}


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    for b in rest:
        yield b.cast(first.schema) if b.schema != first.schema else b


def _renamed(schema: pa.Schema, names: list[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([f.with_name(n) for f, n in zip(schema, names)])
