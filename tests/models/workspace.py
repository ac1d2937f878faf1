"""A real YAML workspace for the model tests: two SQLite files and a Parquet folder."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tests.models.data import ENTITIES_YAML
from tests.models.helpers import TYPES, arrow_table
from tests.models.sqlite_stub import write_sqlite


def build(root: Path, data: dict[str, dict[str, list[dict[str, Any]]]], entities: str = ENTITIES_YAML) -> Path:
    """crm (SQLite: contacts), shop (SQLite: customers), files (Parquet: orders)."""
    (root / "data" / "orders").mkdir(parents=True, exist_ok=True)
    write_sqlite(root / "data" / "crm.db", data["crm"], TYPES)
    write_sqlite(root / "data" / "shop.db", {"customers": data["shop"]["customers"]}, TYPES)
    pq.write_table(arrow_table("orders", data["shop"]["orders"]), root / "data" / "orders" / "part-0.parquet")
    ents = entities.replace("from: shop.orders", "from: files.orders")
    (root / "sources.yaml").write_text(textwrap.dedent("""\
        sources:
          crm: {type: sqlite, path: data/crm.db}
          shop: {type: sqlite, path: data/shop.db}
          files: {type: parquet, path: data/orders/, table: orders}
        """))
    (root / "model.yaml").write_text("entities:\n" + textwrap.indent(textwrap.dedent(ents).strip("\n"), "  ") + "\n")
    return root
