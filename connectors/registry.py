"""Source types: which module implements each, and which options it takes.

Kept free of heavy imports: the config loader validates options against these
specs before any driver is imported; ``create`` imports the connector lazily.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from connectors.base import Connector
    from federation.config.model import SourceConfig

OptionKind = Literal["str", "int", "float", "bool", "list", "mapping", "any"]


@dataclass(frozen=True)
class OptionSpec:
    name: str
    kind: OptionKind = "str"
    required: bool = False
    secret: bool = False  # must come from the environment (${VAR}); masked everywhere
    default: Any = None
    help: str = ""


@dataclass(frozen=True)
class SourceType:
    name: str
    target: str  # "module:Class"
    options: tuple[OptionSpec, ...]
    install_hint: str | None = None  # exact pip command when a driver is missing

    def option(self, name: str) -> OptionSpec | None:
        return next((o for o in self.options if o.name == name), None)


# Options every source takes.
COMMON = (
    OptionSpec("type", required=True, help="source kind"),
    OptionSpec("tables", "any", help="which tables/objects to expose (list of names, or a mapping name -> settings)"),
    OptionSpec("description", help="free text"),
    OptionSpec("max_parallel_partitions", "int", default=1),
)

_SQL = (
    OptionSpec("uri", secret=True, help="connection URI (from the environment)"),
    OptionSpec("db_schema", help="database schema to expose (default: the driver's default)"),
    OptionSpec("dialect", help="sqlglot dialect, when it differs from the type name"),
    OptionSpec("driver_options", "mapping", help="extra ADBC database options"),
    OptionSpec("batch_size", "int"),
    OptionSpec("probe", "bool", help="EXPLAIN a whole query at the source before pushing it (default: on)"),
)

_FILES = (
    OptionSpec("path", help="a file, a folder or a glob, relative to the workspace"),
    OptionSpec("partitioning", help="'hive' for key=value folders, or omitted"),
    OptionSpec("table", help="table name when `path` is given (default: the file or folder stem)"),
)

_CRM = (
    OptionSpec("base_url", required=True, help="API base URL"),
    OptionSpec("token", secret=True, help="API token / bearer token (from the environment)"),
    OptionSpec("client_id", secret=True),
    OptionSpec("client_secret", secret=True),
    OptionSpec("rate_limit", "float", help="requests per second this account may use"),
    OptionSpec("timeout", "float", default=30.0, help="seconds per HTTP request"),
    OptionSpec("retry_budget", "float", default=60.0, help="seconds of retrying before failing"),
)


def _t(name: str, target: str, *extra: OptionSpec, hint: str | None = None) -> SourceType:
    return SourceType(name, target, COMMON + extra, hint)


SOURCE_TYPES: dict[str, SourceType] = {
    "sqlite": _t(
        "sqlite",
        "connectors.adbc.sqlite:SqliteConnector",
        OptionSpec("path", required=True, help="database file, relative to the workspace"),
        OptionSpec("batch_size", "int", help="rows per Arrow batch (default 65536)"),
        OptionSpec("probe", "bool", help="EXPLAIN a whole query at the source before pushing it (default: on)"),
    ),
    "postgresql": _t("postgresql", "connectors.adbc.postgres:PostgresConnector", *_SQL),
    "parquet": _t("parquet", "connectors.files.dataset:FileConnector", *_FILES),
    "csv": _t("csv", "connectors.files.dataset:FileConnector", *_FILES, OptionSpec("delimiter")),
    "jsonl": _t("jsonl", "connectors.files.dataset:FileConnector", *_FILES),
    "hubspot": _t(
        "hubspot",
        "connectors.crm.hubspot:HubSpotConnector",
        *_CRM,
        OptionSpec("search_rate_limit", "float", default=4.5, help="search requests per second (HubSpot allows 5 per account; 10% margin for jitter)"),
        OptionSpec("max_filter_groups", "int", default=5, help="search filterGroups per request"),
        OptionSpec("max_filters_per_group", "int", default=6, help="filters per search group"),
        OptionSpec("max_filters_total", "int", default=18, help="filters per search request"),
        OptionSpec("search_result_cap", "int", default=10_000, help="results one search query can page through"),
        OptionSpec("search_page_size", "int", default=200),
        OptionSpec("list_page_size", "int", default=100),
        OptionSpec("push_like", "bool", default=True, help="send LIKE patterns as CONTAINS_TOKEN (re-checked)"),
        OptionSpec("estimate_rows", "bool", default=True, help="count each object's rows at discovery (one search each)"),
    ),
    "salesforce": _t(
        "salesforce",
        "connectors.crm.salesforce:SalesforceConnector",
        *_CRM,
        OptionSpec("api_version", default="v60.0"),
        OptionSpec("token_url", help="OAuth token endpoint (default {base_url}/services/oauth2/token)"),
        OptionSpec("batch_size", "int", default=2000, help="Sforce-Query-Options batchSize, 200..2000"),
    ),
    "dynamics365": _t(
        "dynamics365",
        "connectors.crm.dynamics365:DataverseConnector",
        *_CRM,
        OptionSpec("token_url", help="Entra ID token endpoint for client credentials"),
        OptionSpec("scope", help="OAuth scope (default {base_url}/.default)"),
        OptionSpec("page_size", "int", default=5000, help="Prefer: odata.maxpagesize, at most 5000"),
    ),
    "zoho": _t(
        "zoho",
        "connectors.crm.zoho:ZohoConnector",
        *_CRM,
        OptionSpec("refresh_token", secret=True, help="OAuth refresh token (with client_id and client_secret)"),
        OptionSpec("accounts_url", default="https://accounts.zoho.com", help="Zoho accounts server of the data centre"),
        OptionSpec("page_size", "int", default=2000, help="COQL LIMIT per call (at most 2000)"),
        OptionSpec("max_rows", "int", default=100_000, help="rows COQL reaches through OFFSET before restarting by id"),
    ),
    "pipedrive": _t(
        "pipedrive",
        "connectors.crm.pipedrive:PipedriveConnector",
        *_CRM,
        OptionSpec("page_size", "int", default=500, help="`limit` per call (at most 500)"),
    ),
}

# Any other ADBC driver by name goes through the generic ADBC connector.
for _name, _pkg in {
    "snowflake": "adbc-driver-snowflake",
    "bigquery": "adbc-driver-bigquery",
    "duckdb": "duckdb",
    "flightsql": "adbc-driver-flightsql",
}.items():
    SOURCE_TYPES[_name] = _t(_name, "connectors.adbc.generic:GenericAdbcConnector", *_SQL, hint=f"pip install {_pkg}")


def create(config: SourceConfig, workspace_dir: Path) -> Connector:
    """Build the connector for one source (imports its module only now)."""
    spec = SOURCE_TYPES[config.type]
    module_name, cls_name = spec.target.split(":")
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)(config, workspace_dir)
