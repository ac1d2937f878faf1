"""Turn a ScanRequest into Pipedrive v2 list requests, and read their cursor pages.

See ``pipedrive`` for what each conjunct maps to. Conjuncts on the same parameter are
intersected (``id IN (1,2) AND id = 2`` sends ``ids=2``; two different owners send
nothing at all: the answer is empty), ``id`` lists longer than 100 become several
requests whose pages are concatenated, and a parameter IN list (``owner_id IN (1, 3)``,
at most ``MAX_FANOUT`` values) becomes one request per value. With several such lists,
the smallest fans out and the others are checked on the raw records before conversion.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.crm import pipedrive_fields as pf
from connectors.crm.local import nulls_first
from connectors.crm.predicates import Comparison, atom
from federation.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from connectors.base import Column, ScanRequest
    from connectors.crm.pipedrive import PipedriveConnector

MAX_IDS = 100
MAX_FANOUT = 20  # `owner_id IN (...)` becomes one request per value, up to this many
PARAMS = {"persons": ("owner_id", "org_id"), "organizations": ("owner_id",),
          "deals": ("owner_id", "person_id", "org_id", "stage_id", "pipeline_id", "status")}
STATUSES = ("open", "won", "lost")
SECOND = dt.timedelta(seconds=1)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def classify_atom(obj: str, e: exp.Expression, max_in: int) -> str:
    c = atom(e)
    if c is None:
        return "unsupported"
    col = c.column.lower()
    if col == "id":
        if (c.op == "=" and _int(c.value)) or (c.op == "in" and all(_int(v) for v in c.values) and len(c.values) <= max_in):
            return "exact"
        return "unsupported"
    if col in PARAMS.get(obj, ()) and (c.op == "=" or (c.op == "in" and len(c.values) <= MAX_FANOUT)):
        ok = (lambda v: v in STATUSES) if col == "status" else _int
        return "exact" if all(ok(v) for v in c.values) else "unsupported"
    if col == "update_time" and all(isinstance(v, dt.datetime) for v in c.values) and c.values:
        whole = all(v.microsecond == 0 for v in c.values)
        if c.op in (">=", "<"):
            return "exact" if whole else "inexact"
        if c.op in (">", "<=", "=", "between"):
            return "inexact"
    return "unsupported"


@dataclass
class PdPlan:
    obj: str
    columns: list[Column]
    specs: list[pf.Spec]
    requests: list[dict[str, Any]]
    page_limit: int
    limit: int | None
    local_order: list[tuple[str, bool, bool]] | None = None
    params_pushed: dict[str, Any] = field(default_factory=dict)
    row_checks: dict[str, set[Any]] = field(default_factory=dict)  # further IN lists, checked on the raw records

    def estimate(self) -> tuple[int, str]:
        """(requests, how sure): Pipedrive reports no totals, so only id lists and LIMITs bound it."""
        if not self.requests:
            return 0, "exact"
        ids = [len(p["ids"].split(",")) for p in self.requests if "ids" in p]
        if ids:
            n = sum(math.ceil(k / self.page_limit) for k in ids)
            return n, "exact" if n == len(ids) else "at most"
        if self.limit is not None:
            return len(self.requests) * math.ceil(self.limit / self.page_limit), "at most"
        return len(self.requests), "at least"


@dataclass
class _Bounds:
    ids: set[int] | None = None
    params: dict[str, set[Any]] = field(default_factory=dict)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    empty: bool = False

    def add(self, c: Comparison) -> None:
        col = c.column.lower()
        if col == "id":
            s = {int(v) for v in c.values}
            self.ids = s if self.ids is None else self.ids & s
        elif col == "update_time":
            self._time(c)
        elif c.op in ("=", "in"):
            self.param(col, set(c.values))

    def param(self, col: str, values: set[Any]) -> None:
        self.params[col] = values if col not in self.params else self.params[col] & values
        self.empty = self.empty or not self.params[col]

    def _time(self, c: Comparison) -> None:
        def floor(v: dt.datetime) -> dt.datetime:
            return v.astimezone(dt.timezone.utc).replace(microsecond=0)

        def ceil(v: dt.datetime) -> dt.datetime:
            return floor(v) + (SECOND if v.microsecond else dt.timedelta(0))

        lo = hi = None
        if c.op in (">=", ">"):
            lo = floor(c.value)
        elif c.op == "<":
            hi = ceil(c.value)
        elif c.op == "<=":
            hi = floor(c.value) + SECOND
        elif c.op == "=":
            lo, hi = floor(c.value), floor(c.value) + SECOND
        elif c.op == "between":
            lo, hi = floor(c.values[0]), floor(c.values[1]) + SECOND
        if lo is not None:
            self.since = lo if self.since is None else max(self.since, lo)
        if hi is not None:
            self.until = hi if self.until is None else min(self.until, hi)


def _rfc3339(v: dt.datetime) -> str:
    return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_scan(conn: PipedriveConnector, request: ScanRequest) -> PdPlan:
    info = conn.table(request.table or "")
    specs_by_name = conn.specs[info.name]
    columns, specs = [], []
    for n in request.columns or request.output_names:
        col = info.column(n)
        if col is None:
            raise SourceError(conn.name, f"object {info.name} has no field '{n}'", hint="Re-run `cdp sources describe`.")
        columns.append(col)
        specs.append(specs_by_name[col.name])
    b = _Bounds()
    for f in request.filters:
        c = atom(f)
        if c is None or classify_atom(info.name, f, 10**9) == "unsupported":
            raise SourceError(conn.name, f"cannot send the filter {f.sql()} to Pipedrive (planner/connector mismatch)")
        b.add(c)
    _key_filter(request, b, info.name, conn.capabilities.max_in_list or 0)
    single = {k: next(iter(v)) for k, v in b.params.items() if len(v) == 1}
    multi = sorted(((k, v) for k, v in b.params.items() if len(v) > 1), key=lambda kv: len(kv[1]))
    base: dict[str, Any] = dict(single)
    if b.since is not None:
        base["updated_since"] = _rfc3339(b.since)
    if b.until is not None:
        base["updated_until"] = _rfc3339(b.until)
    hashes = list(dict.fromkeys(s.key for s in specs if s.custom))
    if 0 < len(hashes) <= 15:
        base["custom_fields"] = ",".join(hashes)  # smaller answers; more than 15 keys: all are returned
    empty = b.empty or b.ids == set() or (b.since is not None and b.until is not None and b.since >= b.until)
    chunks: list[dict[str, Any]] = [{}] if b.ids is None else [
        {"ids": ",".join(map(str, sorted(b.ids)[i: i + MAX_IDS]))} for i in range(0, len(b.ids), MAX_IDS)]
    if multi:  # the smallest IN list fans out into one request per value; the others are checked here
        name, values = multi[0]
        chunks = [ch | {name: v} for ch in chunks for v in sorted(values, key=str)]
    plan = PdPlan(info.name, columns, specs, [], conn.page_size, request.limit, row_checks=dict(multi[1:]))
    _order(plan, request, base, len(chunks), b.since is not None or b.until is not None)
    plan.page_limit = conn.page_size if plan.limit is None else max(1, min(conn.page_size, plan.limit))
    base["limit"] = plan.page_limit
    if not empty:
        plan.requests = [ch | base for ch in chunks]
    plan.params_pushed = base
    return plan


def _key_filter(request: ScanRequest, b: _Bounds, obj: str, max_in: int) -> None:
    """Dynamic-filter keys on id (``ids``) or on a parameter column (fan-out): they only narrow the fetch."""
    kf = request.key_filter
    if kf is None:
        return
    col = kf.column.lower()
    keys = {v for v in kf.keys.to_pylist() if v is not None}
    if not keys or not all(_int(v) for v in keys):
        return
    if col == "id" and len(keys) <= max_in:
        b.ids = keys if b.ids is None else b.ids & keys
    elif col in PARAMS.get(obj, ()) and col != "status":
        narrowed = keys if col not in b.params else b.params[col] & keys
        if len(narrowed) <= MAX_FANOUT:  # more keys would cost more requests than one scan
            b.param(col, keys)


def _order(plan: PdPlan, request: ScanRequest, base: dict[str, Any], n_requests: int, time_bound: bool) -> None:
    keys = [(o.this.name.lower(), bool(o.args.get("desc")), nulls_first(o)) for o in request.order_by]
    if not keys:
        return
    name, desc, _nf = keys[0]
    # id and add_time are never NULL; update_time NULLs are excluded by a pushed update_time bound
    sortable = name in ("id", "add_time") or (name == "update_time" and time_bound)
    if len(keys) == 1 and sortable and n_requests == 1:
        base["sort_by"], base["sort_direction"] = name, "desc" if desc else "asc"
        return
    plan.local_order = keys
    plan.limit = None  # every row is needed to sort here


def read_pages(conn: PipedriveConnector, plan: PdPlan, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    seen = 0
    cut = None if plan.local_order is not None else plan.limit
    for params in plan.requests:
        cursor = None
        while True:
            doc = conn.get(f"/api/v2/{plan.obj}", params | ({"cursor": cursor} if cursor else {})) or {}
            rows = doc.get("data") or []
            if plan.row_checks:
                rows = [r for r in rows if all(r.get(k) in v for k, v in plan.row_checks.items())]
            if cut is not None:
                rows = rows[: max(0, cut - seen)]
            seen += len(rows)
            if rows:
                yield _to_batch(conn, plan, rows, schema)
            if cut is not None and seen >= cut:
                return
            cursor = (doc.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                break


def _to_batch(conn: PipedriveConnector, plan: PdPlan, rows: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    from connectors.crm.types import WireTypeError, to_arrow

    arrays = []
    for col, spec in zip(plan.columns, plan.specs):
        try:
            values = [pf.read(r, spec) for r in rows]
            if spec.type_name == "list_int":  # types.to_arrow reads list items as text
                arrays.append(pa.array([None if v is None else [int(x) for x in v] for v in values], col.type))
            else:
                arrays.append(to_arrow(values, col.type, column=col.name))
        except pf.DriftError as e:
            raise SourceError(conn.name, f"the {plan.obj} answer has no field '{e.args[0]}' (schema drift?)",
                              hint="The field may have been renamed or removed in Pipedrive; re-run `cdp sources describe`.") from None
        except (WireTypeError, TypeError, ValueError) as e:
            what = str(e) if isinstance(e, WireTypeError) else f"column '{col.name}': values could not be read as {col.type}"
            raise SourceError(conn.name, what, hint="The field's type changed since discovery; re-run `cdp sources describe`.") from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
