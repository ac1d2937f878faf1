"""SQLite through adbc_driver_sqlite, opened read-only (``file:...?mode=ro``).

SQLite differs from PostgreSQL in ways that decide what is pushed:
- no boolean or date types: booleans are 0/1, dates and timestamps are text
  (ISO 8601 assumed, UTC). Results are converted to the declared types in Arrow;
  predicates and expressions over dates and timestamps are not pushed (text
  comparison is exact only for one format), only projected, grouped, ordered or
  tested for NULL.
- LIKE ignores ASCII case: it is rendered as the equivalent case-sensitive GLOB.
- the driver infers each column's Arrow type from its first batch (a column that
  is NULL there and text later fails): a first row of typed placeholder values is
  sent ahead of the results and dropped again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlglot import exp

from connectors.adbc.allowlist import TEMPORAL
from connectors.adbc.common import AdbcConnector
from connectors.adbc.keys import BoundKeys, KeyKind, sqlite_json_each
from connectors.adbc.render import RenderError, temporal_columns
from connectors.base import Column, Pushdown, TableInfo
from federation.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from federation.config.model import SourceConfig

_BATCH_ROWS = 65_536
_GLOB_SPECIAL = {"*": "[*]", "?": "[?]", "[": "[[]"}


def declared_type(decl: str) -> tuple[pa.DataType, str | None]:
    """Arrow type for a declared SQLite column type, and the CAST that makes values uniform."""
    import pyarrow as pa

    d = (decl or "").upper()
    if "BOOL" in d:
        return pa.bool_(), None
    if "INT" in d:
        return pa.int64(), None
    if "DATETIME" in d or "TIMESTAMP" in d:
        return pa.timestamp("us"), None
    if d.startswith("DATE"):
        return pa.date32(), None
    if any(k in d for k in ("CHAR", "CLOB", "TEXT")):
        return pa.string(), None
    if "BLOB" in d:
        return pa.binary(), None
    if any(k in d for k in ("REAL", "FLOA", "DOUB")):
        return pa.float64(), None
    if not d:
        return pa.string(), "TEXT"  # no affinity: values of any kind, read as text
    return pa.float64(), "REAL"  # NUMERIC affinity mixes integers and reals


def glob_pattern(like: str) -> str | None:
    """The GLOB pattern matching exactly what PostgreSQL's LIKE ``like`` matches; None if unsure."""
    if "\\" in like:
        return None  # PostgreSQL's default escape character: left to the engine
    out = []
    for ch in like:
        out.append("*" if ch == "%" else "?" if ch == "_" else _GLOB_SPECIAL.get(ch, ch))
    return "".join(out)


class SqliteConnector(AdbcConnector):
    dialect = "sqlite"
    supports_windows = True
    skip_rows = 1
    explain_probe = True
    allow_list = "sqlite"
    # A dynamic key set binds as one JSON text (keys.py): no parameter limit (32,766 for
    # separate ones). bench.orders copied to SQLite (5M rows, index on customer_id),
    # median of 3, literal IN list (the old way) vs json_each(?): 1k keys 0.021 vs 0.013 s,
    # 10k 0.25 vs 0.13 s, 100k 3.25 vs 1.16 s; json_each 200k 2.27 s, 300k 5.0 s, against
    # 1.1 s for all 5M rows (SQLite searches the index once per key): past about 100k keys
    # a full read is cheaper.
    key_list_max = 100_000

    def __init__(self, config: SourceConfig, workspace_dir: Path) -> None:
        super().__init__(config, workspace_dir)
        p = Path(str(config.get("path") or ""))
        self.path = p if p.is_absolute() else self.workspace_dir / p
        self._casts: dict[Column, str] = {}

    def connect(self) -> Any:
        import adbc_driver_sqlite.dbapi as sqlite

        if not self.path.is_file():
            raise SourceError(self.name, f"database file '{self.config.get('path')}' does not exist "
                              f"(relative to {self.workspace_dir})",
                              hint=f"Check `path` of source '{self.name}' ({self.config.location}).")
        # mode=ro: the source is only ever read, whatever SQL reaches it
        # autocommit: a pooled connection must not keep an old read snapshot open
        return sqlite.connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", autocommit=True)

    def discover(self, conn: Any) -> list[TableInfo]:
        cur = conn.cursor()
        try:
            cur.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                        "AND name NOT LIKE 'sqlite~_%' ESCAPE '~' ORDER BY name")
            names = [r[0] for r in cur.fetchall()]
            out = []
            for native in names:
                cur.execute("SELECT name, type, \"notnull\" FROM pragma_table_info(?) ORDER BY cid", parameters=(native,))
                cols = []
                for cname, decl, notnull in cur.fetchall():
                    t, cast = declared_type(decl)
                    col = Column(name=str(cname).lower(), type=t, native_name=cname, nullable=not notnull)
                    if cast:
                        self._casts[col] = cast
                    cols.append(col)
                out.append(TableInfo(name=native.lower(), native_name=native, columns=tuple(cols)))
            return out
        finally:
            cur.close()

    def column_ref(self, col: Column, table: str | None = None) -> exp.Expression:
        ref = super().column_ref(col, table)
        cast = self._casts.get(col)
        return exp.cast(ref, cast) if cast else ref

    def execute(self, cursor: Any, sql: str, params: pa.RecordBatch | None = None) -> None:
        batch = int(self.config.get("batch_size") or _BATCH_ROWS)
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch)})
        cursor.execute(sql, parameters=params)

    def key_condition(self, ref: exp.Expression, keys: pa.Array, kind: KeyKind,
                      native: pa.DataType | None) -> tuple[exp.Expression, BoundKeys | None]:
        return sqlite_json_each(ref, keys)

    # -- what is pushed ------------------------------------------------------------------------
    def rewrite(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Like) and isinstance(node.expression, exp.Literal) and node.expression.is_string:
            pattern = glob_pattern(node.expression.this)
            if pattern is None:
                raise RenderError("LIKE pattern with an escape")
            glob = exp.Glob(this=node.this, expression=exp.Literal.string(pattern))
            return exp.Not(this=glob) if node.args.get("negate") else glob
        if isinstance(node, exp.Like):
            raise RenderError("LIKE with a computed pattern")
        if isinstance(node, exp.Join) and not node.args.get("on") and not node.args.get("using") and not node.side:
            # a comma join would come out as CROSS JOIN, which SQLite never reorders
            node.set("kind", None)
            node.set("on", exp.true())
        return node

    def check_predicate(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        for c in predicate.find_all(exp.Column):
            col = table.column(c.name)
            if col is None or _is_temporal(col.type):
                return "unsupported"
        for like in predicate.find_all(exp.Like):
            lit = like.expression
            if not (isinstance(lit, exp.Literal) and lit.is_string and glob_pattern(lit.this) is not None):
                return "unsupported"
        if predicate.find(exp.Literal, exp.Cast) is not None and not self._literals_plain(predicate):
            return "unsupported"
        if _text_against_number(predicate, table):
            return "unsupported"
        return "exact"

    @staticmethod
    def _literals_plain(node: exp.Expression) -> bool:
        """Date/timestamp literals compare as text in SQLite: only plain numbers and strings go down."""
        for cast in node.find_all(exp.Cast):
            if cast.to.this in TEMPORAL:
                return False
        return True

    def check_query(self, query: exp.Expression) -> bool:
        allowed_parents = (exp.Alias, exp.Select, exp.Group, exp.Ordered, exp.Count, exp.Distinct)
        for c in temporal_columns(query):
            parent = c.parent
            if isinstance(parent, exp.Is) and isinstance(parent.expression, exp.Null):
                continue
            if not isinstance(parent, allowed_parents):
                return False
        for cast in query.find_all(exp.Cast):
            if cast.to.this in TEMPORAL:
                return False
        for like in query.find_all(exp.Like):
            lit = like.expression
            if not (isinstance(lit, exp.Literal) and lit.is_string and glob_pattern(lit.this) is not None):
                return False
        return True

    # -- results ---------------------------------------------------------------------------------
    def wrap_sql(self, query: exp.Query, types: list[pa.DataType | None]) -> exp.Query:
        """Prepend one row of typed placeholders so the driver infers every column's type."""
        first = exp.select(*[exp.alias_(_placeholder(t), f"c{i}", quoted=True) for i, t in enumerate(types)])
        rest = exp.select("*").from_(exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("q", quoted=True))))
        return exp.union(first, rest, distinct=False)

    def convert(self, batch: pa.RecordBatch, types: list[pa.DataType | None]) -> pa.RecordBatch:
        from connectors.adbc.convert import to_type

        arrays = [to_type(batch.column(i), types[i] if i < len(types) else None) for i in range(batch.num_columns)]
        import pyarrow as pa

        return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _text_against_number(predicate: exp.Expression, table: TableInfo) -> bool:
    """``text_col = 1``: PostgreSQL refuses it, SQLite quietly compares '1'; leave it to the engine."""
    import pyarrow as pa

    for node in predicate.find_all(exp.Binary, exp.In, exp.Between):
        parts = [node.this, node.args.get("expression"), node.args.get("low"), node.args.get("high"),
                 *(node.args.get("expressions") or [])]
        cols = [table.column(p.name) for p in parts if isinstance(p, exp.Column)]
        numbers = [p for p in parts if isinstance(p, exp.Literal) and not p.is_string]
        if numbers and any(c is not None and pa.types.is_string(c.type) for c in cols):
            return True
    return False


def _is_temporal(t: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_time(t)


def _placeholder(t: pa.DataType | None) -> exp.Expression:
    import pyarrow as pa

    if t is None or pa.types.is_decimal(t) or pa.types.is_null(t):
        return exp.null()
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        return exp.Literal.number(0)
    if pa.types.is_floating(t):
        return exp.Literal.number("0.0")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return exp.cast(exp.Literal.string(""), "BLOB")
    return exp.Literal.string("")
