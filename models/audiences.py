"""Audiences: a segment, the fields to deliver, a key and a destination.

::

    audiences:
      churn_risk_crm:
        description: customers at risk, for the CRM team
        segment: churn_risk          # a segment name (YAML or .sql)
        key: email                   # the delivered field that identifies a record downstream
        fields:                      # a list of the segment's columns ...
          - email
          - country
        # ... or a mapping {delivered_name: segment_column}:
        # fields: {email: email, firstname: first_name, lifetime_value: ltv}
        consent: marketing_opt_in    # only rows where this column = true are ever exported
        # consent: {field: opt_in, value: 1}   (another accepted value)
        pii: [email, phone]          # extra PII columns (fields tagged `pii:` in the model count too);
                                     # a mapping {column: email|phone|other} names the kind
        mode: incremental            # default sync mode: full | incremental | mirror
        batch_size: 100              # records per request (default: the destination's: webhook 500,
                                     # hubspot 100, salesforce 200, files 10000; capped by its limit)
        destination:
          type: webhook              # csv | parquet | webhook | hubspot | salesforce
          hash_pii: false            # true: PII values become SHA-256 of the normalised value
          phone_country_code: "49"   # for national phone numbers when hashing
          # csv / parquet:  path: out/churn.csv   (relative to the workspace)
          # webhook:        url: https://..., auth_env: WEBHOOK_TOKEN, auth_header: Authorization,
          #                 auth_scheme: Bearer, headers: {X-Team: crm}
          # hubspot:        source: crm (a declared hubspot source: its base_url and token), or
          #                 base_url: ..., token_env: HUBSPOT_TOKEN; and object: contacts,
          #                 id_property: email, list: "Churn risk"  (membership add/remove)
          # salesforce:     source: sf, or base_url: ..., token_env: SALESFORCE_TOKEN; object: Contact,
          #                 external_id: External_Id__c, api_version: v60.0

Rows whose key is null are never delivered (counted as ``no_key``); when two rows
share a key the last one wins (counted as ``duplicate_keys``).

Python API (``ws.audience(name)``): ``to_arrow()``, ``batches()`` (a streaming
iterator of record batches with PII already hashed as the destination asks),
``preview()`` (counts incl. consent exclusions, and a sample), ``diff(state)``
(added / changed / removed against a sync state or a ``{key: row_hash}`` map).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from federation.errors import ConfigError, Location, Problem, UsageError, did_you_mean
from models.pii import hash_column, pii_kind
from models.segment_yaml import NAME, literal

if TYPE_CHECKING:
    import pyarrow as pa

    from federation.sync.diff import Diff
    from federation.workspace import Workspace
    from models.segments import Segment

_KEYS = {"description", "segment", "key", "fields", "consent", "pii", "mode", "batch_size", "destination"}
DEST_TYPES = ("csv", "parquet", "webhook", "hubspot", "salesforce")
MODES = ("full", "incremental", "mirror")


@dataclass(frozen=True)
class AudienceSpec:
    name: str
    segment: str
    key: str
    fields: dict[str, str]  # delivered name -> segment column
    destination: dict[str, Any]
    consent: tuple[str, Any] | None = None
    pii: dict[str, str] = field(default_factory=dict)  # delivered name -> kind (declared)
    mode: str = "incremental"
    batch_size: int | None = None
    description: str = ""
    location: Location | None = None


def audience_names(ws: Workspace) -> list[str]:
    return list(ws.config.sections.get("audiences") or {})


def _loc(ws: Workspace, path: str) -> Location:
    from models.segments import _loc as seg_loc

    return seg_loc(ws, path)


def parse_audience(ws: Workspace, name: str) -> AudienceSpec:
    section = ws.config.sections.get("audiences") or {}
    if name not in section:
        names = list(section)
        raise UsageError(f"no audience named '{name}'",
                         hint=did_you_mean(name, names) or f"Audiences: {', '.join(names) or '(none)'}.")
    raw, path = section[name], f"audiences.{name}"
    problems: list[Problem] = []

    def bad(p: str, msg: str) -> None:
        problems.append(Problem(_loc(ws, p), msg))

    if not isinstance(raw, dict):
        raise ConfigError([Problem(_loc(ws, path), "an audience must be a mapping (segment, key, fields, destination)")])
    for k in raw:
        if k not in _KEYS:
            bad(f"{path}.{k}", f"unknown key '{k}'. " + (did_you_mean(k, sorted(_KEYS)) or f"Keys: {', '.join(sorted(_KEYS))}."))
    segment = raw.get("segment")
    if not isinstance(segment, str):
        bad(f"{path}.segment", "'segment' (a segment name) is required")
    fields = _fields(raw.get("fields"), f"{path}.fields", bad)
    key = raw.get("key")
    if not isinstance(key, str) or not NAME.match(key):
        bad(f"{path}.key", "'key' (the field that identifies a record at the destination) is required")
        key = "customer_id"
    if key not in fields:
        fields = {key: key, **fields}
    dest = raw.get("destination")
    if not isinstance(dest, dict) or dest.get("type") not in DEST_TYPES:
        bad(f"{path}.destination", f"'destination' needs a type: {', '.join(DEST_TYPES)}")
        dest = {"type": "csv"}
    mode = raw.get("mode", "incremental")
    if mode not in MODES:
        bad(f"{path}.mode", f"mode '{mode}' is not one of {', '.join(MODES)}")
    batch = raw.get("batch_size")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        bad(f"{path}.batch_size", "'batch_size' takes a whole number >= 1")
    consent = _consent(raw.get("consent"), f"{path}.consent", bad)
    pii = _pii(raw.get("pii"), f"{path}.pii", bad, fields)
    if problems:
        raise ConfigError(problems)
    return AudienceSpec(name, str(segment), key, fields, dict(dest), consent, pii, mode, batch,
                        str(raw.get("description") or ""), ws.config.locations.get(path))


def _fields(raw: Any, path: str, bad: Any) -> dict[str, str]:
    if isinstance(raw, list):
        raw = {f: f for f in raw if isinstance(f, str)} if all(isinstance(f, str) for f in raw) else None
    if not isinstance(raw, dict) or not raw:
        bad(path, "'fields' is a list of columns or a mapping {delivered_name: column}")
        return {}
    out = {}
    for dest, src in raw.items():
        if not isinstance(dest, str) or not NAME.match(dest) or not isinstance(src, str) or not NAME.match(src):
            bad(f"{path}.{dest}", f"'{dest}: {src}' is not a pair of column names")
            continue
        out[dest] = src
    return out


def _consent(raw: Any, path: str, bad: Any) -> tuple[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, str) and NAME.match(raw):
        return raw, True
    if isinstance(raw, dict) and isinstance(raw.get("field"), str) and NAME.match(raw["field"]):
        return raw["field"], raw.get("value", True)
    bad(path, "'consent' is a column name, or {field: column, value: accepted value}")
    return None


def _pii(raw: Any, path: str, bad: Any, fields: dict[str, str]) -> dict[str, str]:
    if raw is None:
        return {}
    items = {c: "" for c in raw} if isinstance(raw, list) else raw
    if not isinstance(items, dict):
        bad(path, "'pii' is a list of columns or a mapping {column: email|phone|other}")
        return {}
    out = {}
    by_source = {src: d for d, src in fields.items()}
    for col, kind in items.items():
        if kind not in ("", "email", "phone", "other"):
            bad(f"{path}.{col}", f"unknown PII kind '{kind}' (email, phone, other)")
        name = col if col in fields else by_source.get(col)
        if name is not None:
            out[name] = str(kind)
    return out


class Audience:
    """One audience, compiled for the instant ``as_of``."""

    def __init__(self, ws: Workspace, spec: AudienceSpec, segment: Segment) -> None:
        self.ws, self.spec, self.segment, self.name = ws, spec, segment, spec.name
        self.hash_pii = bool(spec.destination.get("hash_pii", False))
        self.pii_columns = self._pii_columns()

    @property
    def key(self) -> str:
        return self.spec.key

    def _pii_columns(self) -> dict[str, str]:
        """Delivered column -> kind, for every PII column (model tags + audience list)."""
        tagged: set[str] = set()
        model = self.ws.model
        if model is not None:
            for ent in model.entities.values():
                tagged.update(ent.pii)
        out = {d: pii_kind(src) for d, src in self.spec.fields.items() if src in tagged}
        for d, kind in self.spec.pii.items():
            out[d] = pii_kind(self.spec.fields.get(d, d), kind or None)
        return out

    def query(self, consent: bool = True) -> exp.Query:
        seg = exp.Subquery(this=self.segment.query.copy(), alias=exp.TableAlias(this=exp.to_identifier("seg")))
        # delivered names keep their case (Salesforce: External_Id__c), so they are quoted
        cols = [exp.alias_(exp.column(src, table="seg"), exp.to_identifier(dest, quoted=True))
                for dest, src in self.spec.fields.items()]
        q = exp.select(*cols).from_(seg)
        if consent and self.spec.consent is not None:
            col, value = self.spec.consent
            q = q.where(exp.EQ(this=exp.column(col, table="seg"), expression=literal(value)))
        return q

    @property
    def sql(self) -> str:
        return self.query().sql(dialect="postgres")

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """PII columns hashed when the destination asks for it."""
        import pyarrow as pa

        if not self.hash_pii or not self.pii_columns:
            return batch
        cc = self.spec.destination.get("phone_country_code")
        arrays, names = [], batch.schema.names
        for name, arr in zip(names, batch.columns):
            kind = self.pii_columns.get(name)
            if kind is not None:
                arr = pa.array(hash_column(arr.to_pylist(), kind, str(cc) if cc else None), pa.string())
            arrays.append(arr)
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def batches(self, read: dict[str, int] | None = None) -> Iterator[pa.RecordBatch]:
        """Stream the audience with bounded memory, PII hashed as the destination asks.

        One source: its batches as they come. A row-wise pipeline: its largest input
        batch by batch. A merged profile (or any plan whose joins, windows and groups
        pair rows by one key): in key partitions of about ``ws.partition_rows`` rows
        (default ``federation.partitioned.TARGET_ROWS``), spilled to a temporary
        folder; memory is then a partition plus what every partition shares (e.g.
        a segment's events grouped by customer). Anything else is answered whole.

        ``read``, when given, receives the rows fetched per source (for sync logs)."""
        from federation.partitioned import partitioned
        from federation.run import FragmentStats, RunStats, open_fragment, run
        from federation.stream import stream

        plan = self.ws.plan(self.sql)
        stats = RunStats()
        engine = self.ws.engine()
        if engine.name != "local":  # e.g. Spark: the engine answers, we hand out its batches
            reader = engine.run(plan, self.ws.catalog, stats).to_reader()
        elif plan.residual is None:  # one fragment: stream straight from the source
            frag = plan.fragments[0]
            reader = open_fragment(self.ws.catalog, frag, stats.fragments.setdefault(frag.id, FragmentStats()))
        else:  # a pipeline streams its largest input, a keyed plan its partitions; else whole
            reader = stream(self.ws.catalog, plan, stats) or partitioned(
                self.ws.catalog, plan, stats, rows_per_partition=self.ws.partition_rows) or \
                run(self.ws.catalog, plan, stats).to_reader()
        for batch in reader:
            if batch.num_rows:
                yield self.transform(batch)
        if read is not None:
            for frag in plan.fragments:
                st = stats.fragments.get(frag.id)
                read[frag.source] = read.get(frag.source, 0) + (st.rows if st else 0)

    def schema(self) -> pa.Schema:
        """The delivered columns and types (PII columns as text when hashed)."""
        import pyarrow as pa

        q = self.query().limit(0)
        schema = self.ws.query(q.sql(dialect="postgres")).schema
        if self.hash_pii:
            schema = pa.schema([pa.field(f.name, pa.string()) if f.name in self.pii_columns else f for f in schema])
        return schema

    def to_arrow(self) -> pa.Table:
        import pyarrow as pa

        table = self.ws.query(self.sql)
        return pa.Table.from_batches([self.transform(b) for b in table.to_batches()], schema=None) if table.num_rows \
            else table

    def preview(self, sample: int = 10) -> dict[str, Any]:
        """Counts (members, exported, excluded for consent, null keys) and a sample."""
        members = self.segment.count()
        rows = 0
        no_key = 0
        first: list[dict[str, Any]] = []
        for batch in self.batches():
            rows += batch.num_rows
            no_key += batch.column(self.key).null_count
            if len(first) < sample:
                first.extend(batch.slice(0, sample - len(first)).to_pylist())
        return {
            "audience": self.name, "segment": self.spec.segment, "as_of": self.segment.as_of.isoformat(),
            "members": members, "excluded_without_consent": members - rows if self.spec.consent else 0,
            "no_key": no_key, "exported": rows - no_key, "hashed_pii": sorted(self.pii_columns) if self.hash_pii else [],
            "sample": first,
        }

    def diff(self, state: Any = None) -> Diff:
        """Added / changed / removed rows against ``state`` (a SyncState, a path, or {key: hash})."""
        from federation.sync.diff import diff_audience

        return diff_audience(self, state)


def get_audience(ws: Workspace, name: str, as_of: str | dt.datetime | None = None) -> Audience:
    from models.segments import get_segment, segment_names

    spec = parse_audience(ws, name)
    if spec.segment not in segment_names(ws):
        raise ConfigError([Problem(_loc(ws, f"audiences.{name}.segment"), f"no segment named '{spec.segment}'",
                                   did_you_mean(spec.segment, segment_names(ws)))])
    return Audience(ws, spec, get_segment(ws, spec.segment, as_of))


def list_audiences(ws: Workspace) -> list[dict[str, Any]]:
    out = []
    for name in audience_names(ws):
        raw = (ws.config.sections.get("audiences") or {}).get(name) or {}
        dest = raw.get("destination") if isinstance(raw, dict) else None
        out.append({"name": name, "segment": raw.get("segment", "") if isinstance(raw, dict) else "",
                    "destination": (dest or {}).get("type", "") if isinstance(dest, dict) else "",
                    "mode": raw.get("mode", "incremental") if isinstance(raw, dict) else "",
                    "description": raw.get("description", "") if isinstance(raw, dict) else ""})
    return out


def as_mapping(state: Any) -> Mapping[str, str]:
    """Key -> row hash from a SyncState, a state folder, or a mapping."""
    from pathlib import Path

    from federation.sync.state import SyncState

    if state is None:
        return {}
    if isinstance(state, SyncState):
        return state.hashes
    if isinstance(state, (str, Path)):
        return SyncState.load(Path(state)).hashes
    return dict(state)
