"""Shared text and helpers for the workspace loader tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.config.load import load_workspace
from federation.errors import ConfigError

VALID = """\
sources:
  shop:     {type: sqlite, path: data/shop.db}
  warehouse: {type: postgresql, uri: "${WAREHOUSE_URI}", db_schema: public, tables: [customers, orders]}
  events:   {type: parquet, path: data/events/, partitioning: hive, table: events}
  crm:      {type: hubspot, base_url: "${HUBSPOT_URL:-http://127.0.0.1:8711}", token: "${HUBSPOT_TOKEN}"}
"""

ENV = {"WAREHOUSE_URI": "postgresql://app:s3cr3t-pw@db.internal/dw", "HUBSPOT_TOKEN": "pat-na1-0123456789"}


def problems_of(root: Path, env: dict[str, str] | None = None) -> ConfigError:
    """Load a workspace that must fail; return the error."""
    with pytest.raises(ConfigError) as info:
        load_workspace(root, env=env or {})
    return info.value
