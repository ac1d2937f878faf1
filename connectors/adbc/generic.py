"""Any other ADBC driver by source type: snowflake, bigquery, duckdb, flightsql.

The driver package is imported only when the source is used; a missing one is a
UserError carrying the exact ``pip install`` command from the registry. What is
pushed follows the conservative default allow-list (structure and portable
operators, no division, whose meaning differs between engines).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from connectors.adbc.common import AdbcConnector
from connectors.base import Column, TableInfo
from federation.errors import SourceError, UserError

# source type -> (dbapi module, sqlglot dialect)
DRIVERS: dict[str, tuple[str, str]] = {
    "snowflake": ("adbc_driver_snowflake.dbapi", "snowflake"),
    "bigquery": ("adbc_driver_bigquery.dbapi", "bigquery"),
    "flightsql": ("adbc_driver_flightsql.dbapi", "postgres"),
    "duckdb": ("adbc_driver_duckdb.dbapi", "duckdb"),  # ships inside the duckdb wheel
}


class GenericAdbcConnector(AdbcConnector):
    supports_windows = False

    def __init__(self, config: Any, workspace_dir: Any) -> None:
        module, dialect = DRIVERS.get(config.type, ("", "postgres"))
        self.module_name = module
        self.dialect = dialect
        super().__init__(config, workspace_dir)

    def _driver(self) -> Any:
        from connectors.registry import SOURCE_TYPES

        try:
            return importlib.import_module(self.module_name)
        except ImportError as e:
            spec = SOURCE_TYPES.get(self.source_type)
            hint = spec.install_hint if spec and spec.install_hint else None
            raise UserError(f"source '{self.name}' needs the {self.source_type} ADBC driver, which is not installed",
                            hint=hint) from e

    def connect(self) -> Any:
        driver = self._driver()
        uri = self.config.get("uri")
        extra = dict(self.config.get("driver_options") or {})
        if self.source_type == "duckdb":
            path = str(uri or extra.pop("path", ":memory:"))
            if path.startswith("duckdb:///"):
                path = path[len("duckdb:///"):]
            p = Path(path)
            if path != ":memory:" and not p.is_absolute():
                p = self.workspace_dir / p
            return driver.connect(path if path == ":memory:" else str(p))
        if not uri and self.source_type != "bigquery":
            raise SourceError(self.name, "no `uri` given", hint=f"Set `uri` for the source ({self.config.location}).")
        if uri:
            return driver.connect(str(uri), db_kwargs=extra or None)
        return driver.connect(db_kwargs=extra)

    def discover(self, conn: Any) -> list[TableInfo]:
        schema = self.config.get("db_schema")
        objects = conn.adbc_get_objects(depth="tables", db_schema_filter=schema).read_all().to_pylist()
        out = []
        for cat in objects:
            for s in cat["catalog_db_schemas"] or []:
                for t in s["db_schema_tables"] or []:
                    native = t["table_name"]
                    arrow = conn.adbc_get_table_schema(native, db_schema_filter=s["db_schema_name"] or None)
                    cols = tuple(Column(name=f.name.lower(), type=f.type, native_name=f.name) for f in arrow)
                    out.append(TableInfo(name=native.lower(), native_name=native, columns=cols))
        return out

