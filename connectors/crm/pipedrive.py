"""Pipedrive API v2 connector: fixed list parameters only, cursor pages → Arrow.

Options: ``base_url`` (``https://{company}.pipedrive.com``), ``token`` (sent as
``x-api-token``), ``tables`` (persons, organizations, deals), ``page_size`` (≤500).

Pushdown goes ONLY through the documented parameters of ``GET /api/v2/{object}``
(CRM-PROTOCOLS 5.2). Saved filters (``/v1/filters`` + ``filter_id``) would push more,
but creating one writes to the customer's account, so it is never done; and
``filter_id`` is never sent, so it cannot override the other parameters. Per
conjunct (see ``pipedrive_plan``):

- ``id = n`` / ``id IN (...)`` → ``ids`` (≤100 per request, more lists split): exact;
- ``owner_id = n`` (and ``org_id``; deals: ``person_id``, ``stage_id``,
  ``pipeline_id``; ``status = 'open'|'won'|'lost'``) → the parameter: exact; an IN list
  of up to 20 values → one request per value: exact;
- ``update_time >= t`` → ``updated_since`` and ``update_time < t`` →
  ``updated_until`` are exact for whole-second ``t`` (the API compares with ≥ and <).
  ``>``, ``<=``, ``=``, BETWEEN and fractional seconds are sent as the nearest
  wider bound (inexact: Pipedrive timestamps are whole seconds, but we do not rely
  on that) and re-checked by the engine;
- ORDER BY one of id / add_time (and update_time when an update_time bound is
  pushed, which excludes NULLs) → ``sort_by`` + ``sort_direction``; LIMIT → ``limit``.

Everything else is "unsupported" and runs in Arrow.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Capabilities, Column, NativeRequest, Pushdown, ScanRequest, TableInfo
from connectors.crm import pipedrive_fields as pf
from connectors.crm.pipedrive_plan import classify_atom, plan_scan
from federation.errors import SourceError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from federation.config.model import SourceConfig


def _describe_error(status: int, data: Any) -> str | None:
    """Pipedrive's short ``error`` text for 4xx answers (it names the problem, not the data)."""
    if isinstance(data, dict) and isinstance(data.get("error"), str) and status in (400, 401, 402, 403, 404, 422):
        return data["error"][:120]
    return None


class PipedriveConnector:
    source_type = "pipedrive"

    def __init__(self, config: SourceConfig, workspace_dir: Path) -> None:
        from connectors.crm.http import CrmHttp

        self.name = config.name
        opts = config.options
        self.base_url = str(opts.get("base_url") or "").rstrip("/")
        tables = opts.get("tables") or tuple(pf.OBJECTS)
        self.objects = [str(t).lower() for t in (tables.keys() if isinstance(tables, dict) else tables)]
        bad = [o for o in self.objects if o not in pf.OBJECTS]
        if bad:
            raise SourceError(self.name, f"has no object '{bad[0]}'", hint=did_you_mean(bad[0], list(pf.OBJECTS))
                              or f"Pipedrive objects: {', '.join(pf.OBJECTS)}.")
        self.page_size = min(max(int(opts.get("page_size") or 500), 1), 500)
        self._token = opts.get("token")
        if not self._token:
            raise SourceError(self.name, "needs `token` (a Pipedrive API token), which was not set",
                              hint="Set it from the environment, e.g. token: \"${PIPEDRIVE_TOKEN}\".")
        self.capabilities = Capabilities(
            supports_projection=False, supports_filter=True, supports_limit=True, supports_order=True,
            max_page_size=self.page_size, max_in_list=1000,
        )
        rate = opts.get("rate_limit")
        self.http = CrmHttp(
            self.name, "pipedrive", self.base_url, headers=lambda: {"x-api-token": str(self._token)},
            credential=self._token, rates={"default": float(rate)} if rate else None,
            timeout=float(opts.get("timeout") or 30.0),
            retry_budget=float(opts.get("retry_budget") if opts.get("retry_budget") is not None else 60.0),
            describe_error=_describe_error,
        )
        self._tables: list[TableInfo] | None = None
        self.specs: dict[str, dict[str, pf.Spec]] = {}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            return self.http.request("GET", path, params=params).data
        except SourceError as e:
            if "401" in e.message:
                e.hint = "The Pipedrive API token was refused; check it (it is never printed)."
            raise

    # -- discovery ------------------------------------------------------------------------
    def tables(self) -> list[TableInfo]:
        if self._tables is None:
            self._tables = [self._describe(o) for o in self.objects]
        return list(self._tables)

    def _describe(self, obj: str) -> TableInfo:
        meta: list[dict[str, Any]] = []
        start = 0
        while True:  # v1 offset paging
            doc = self.get(f"/v1/{pf.OBJECTS[obj]}", {"start": start, "limit": 500}) or {}
            meta.extend(doc.get("data") or [])
            page = (doc.get("additional_data") or {}).get("pagination") or {}
            if not page.get("more_items_in_collection"):
                break
            start = int(page.get("next_start") or start + 500)
        specs = list(pf.STANDARD[obj])
        specs += pf.custom_specs(meta, {s.name for s in specs})
        self.specs[obj] = {s.name: s for s in specs}
        cols = tuple(Column(s.name, pf.arrow_type(s.type_name), s.key, nullable=s.name != "id",
                            description="custom field" if s.custom else None) for s in specs)
        return TableInfo(obj, obj, cols)

    def table(self, name: str) -> TableInfo:
        for t in self.tables():
            if t.name == name.lower():
                return t
        raise SourceError(self.name, f"has no object '{name}'", hint=did_you_mean(name, [t.name for t in self.tables()]))

    # -- pushdown ---------------------------------------------------------------------------
    def classify(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        return classify_atom(table.name, predicate, self.capabilities.max_in_list or 0)  # type: ignore[return-value]

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        return False

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        from urllib.parse import urlencode

        p = plan_scan(self, request)
        path = f"/api/v2/{p.obj}"
        out = []
        for i, params in enumerate(p.requests):
            detail: dict[str, Any] = {"page_size": p.page_limit}
            if i == 0:
                detail["estimated_requests"], detail["estimate"] = p.estimate()
            out.append(NativeRequest("http", method="GET", path=f"{path}?{urlencode(params)}", detail=detail))
        return out

    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        import pyarrow as pa

        from connectors.crm.pipedrive_plan import read_pages

        p = plan_scan(self, request)
        schema = pa.schema([pa.field(n, c.type) for n, c in zip(request.output_names, p.columns)])
        batches = read_pages(self, p, schema)
        if p.local_order is None:
            return pa.RecordBatchReader.from_batches(schema, batches)
        from connectors.crm.local import sort_limit

        out_name = {c.name: n for n, c in zip(request.output_names, p.columns)}
        keys = [(out_name[c], d, nf) for c, d, nf in p.local_order if c in out_name]
        if len(keys) != len(p.local_order):
            raise SourceError(self.name, "ORDER BY keys must be among the scanned columns")
        return sort_limit(pa.Table.from_batches(list(batches), schema), keys, request.limit).to_reader()

    def request_stats(self) -> dict[str, Any]:
        """Requests, retries, bytes and seconds spent on the wire so far (for explain --analyze)."""
        return self.http.stats.snapshot()

    def check(self) -> None:
        self.get(f"/api/v2/{self.objects[0] if self.objects else 'persons'}", {"limit": 1})

    def close(self) -> None:
        self.http.close()
