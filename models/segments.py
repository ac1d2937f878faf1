"""Segments: named sets of customers, as SQL files or a small YAML form.

A segment is planned like any query (``ws.query``), so its filters and event
counts are pushed to the sources and only keys cross the wire.

SQL segments
------------
Every ``segments/**/*.sql`` file of the workspace is a segment named after the
file. The query may use ``:as_of`` (the run's instant, a UTC timestamp) for
relative dates. Its key (used by membership and audiences) is ``customer_id``
when the query returns such a column, else its first column. A YAML entry
``{sql: "SELECT ...", key: id}`` is the same thing inline.

YAML segments
-------------
::

    segments:
      engaged_germans:
        description: German customers who bought twice in 30 days
        from: customers          # entity (or source.table); default: customers
        key: customer_id         # the key column; default: the entity's id_field/key, else customer_id
        events:                  # defaults for event conditions (all optional)
          from: events           #   entity or source.table holding the events
          key: customer_id       #   its column holding the customer key (default: from the
                                 #   events entity's relation to `from`, e.g. customer_email -> email)
          name: event            #   its column holding the event name
          time: ts               #   its column holding the event time
        where:                   # a list: every condition must hold
          - country: DE                            # equality (a list means IN, null means IS NULL)
          - lifetime_value: {">=": 100, "<": 5000} # = != < <= > >= (or eq ne lt lte gt gte)
          - lifecycle_stage: {in: [lead, customer]} # also not_in, like, not_like, is_null: true|false
          - signed_up_at: {after: -90d}            # before/after/between take dates (below)
          - last_seen_at: {within: 14d}            # [as_of - 14d, as_of]
          - did: purchase                          # an event name (or a list; '*' = any event)
            at_least: 2                            # and/or at_most: N (at_most alone includes 0)
            within: 30d                            # or between: [2026-01-01, 2026-02-01] (end excluded)
            where: {amount: {">": 10}}             # conditions on the event's own columns
          - did_not: login                         # no such event in the window
            within: 90d
          - in_segment: newsletter                 # membership of another segment
          - not_in_segment: churned                # exclusion
          - any:                                   # OR; also all: [...] and not: {...}
              - country: FR
              - country: BE

Dates: ``2026-01-31``, ``2026-01-31T10:00:00``, ``now``, ``today``, ``yesterday``,
or an offset from the run's instant: ``-30d``, ``-12h``, ``-2w``, ``-3M``, ``-1y``,
``today-7d``. They are evaluated when the segment runs; ``as_of`` (``--as-of``)
fixes that instant for reproducible runs. Text time columns are compared as
ISO-8601 text (``YYYY-MM-DDTHH:MM:SS``); timestamp and date columns with typed
literals.

Event conditions compile to ``key IN (SELECT key FROM events WHERE ... GROUP BY
key HAVING count(*) >= N)`` so the grouping runs in the event source; ``did_not``
and ``at_most`` use ``NOT IN`` over the keys with events (customers whose key is
null never match).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from federation.errors import ConfigError, Location, Problem, UsageError, did_you_mean
from models.segment_dates import DateError, iso, parse_as_of
from models.segment_yaml import NAME, TABLE, Ctx, EventDefaults, compile_conditions

if TYPE_CHECKING:
    import pyarrow as pa

    from federation.workspace import Workspace

_KEYS = {"description", "from", "key", "events", "where", "sql", "sql_file"}


@dataclass(frozen=True)
class SegmentSpec:
    name: str
    kind: str  # "sql" | "yaml"
    raw: dict[str, Any]
    location: Location | None


def _loc(ws: Workspace, path: str) -> Location:
    locs = ws.config.locations
    probe = path
    while probe:
        if probe in locs:
            return locs[probe] if probe == path else Location(locs[probe].file, locs[probe].line, locs[probe].col, path)
        probe = probe.rsplit(".", 1)[0] if "." in probe else ""
    return Location("segments", key_path=path)


def segment_names(ws: Workspace) -> list[str]:
    return list(ws.config.sections.get("segments") or {})


def spec_of(ws: Workspace, name: str) -> SegmentSpec:
    section = ws.config.sections.get("segments") or {}
    if name not in section:
        names = list(section)
        raise UsageError(f"no segment named '{name}'",
                         hint=did_you_mean(name, names) or f"Segments: {', '.join(names) or '(none)'}.")
    raw = section[name]
    if not isinstance(raw, dict):
        raise ConfigError([Problem(_loc(ws, f"segments.{name}"), "a segment must be a mapping (or a .sql file)")])
    kind = "sql" if ("sql" in raw or "sql_file" in raw) else "yaml"
    return SegmentSpec(name, kind, dict(raw), ws.config.locations.get(f"segments.{name}"))


def list_segments(ws: Workspace) -> list[dict[str, Any]]:
    """One row per segment: name, kind, description, where it is defined."""
    out = []
    for name in segment_names(ws):
        spec = spec_of(ws, name)
        where = spec.raw.get("sql_file") or (str(spec.location) if spec.location else "")
        out.append({"name": name, "kind": spec.kind, "description": spec.raw.get("description") or "", "defined_at": where})
    return out


class Segment:
    """A compiled segment. ``sql`` is the query text; ``run()``/``count()`` read the sources."""

    def __init__(self, ws: Workspace, name: str, query: exp.Query, key: str, as_of: dt.datetime, kind: str) -> None:
        self.ws, self.name, self.query, self.key, self.as_of, self.kind = ws, name, query, key, as_of, kind

    @property
    def sql(self) -> str:
        return self.query.sql(dialect="postgres")

    def pretty_sql(self) -> str:
        return self.query.sql(dialect="postgres", pretty=True)

    def run(self) -> pa.Table:
        return self.ws.query(self.sql)

    def batches(self) -> pa.RecordBatchReader:
        return self.ws.query_batches(self.sql)

    def count(self) -> int:
        sub = exp.Subquery(this=self.query.copy(), alias=exp.TableAlias(this=exp.to_identifier("seg")))
        q = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_(sub)
        return int(self.ws.query(q.sql(dialect="postgres")).column("n")[0].as_py())

    def explain(self, analyze: bool = False) -> dict[str, Any]:
        return self.ws.explain(self.sql, analyze=analyze)


def get_segment(ws: Workspace, name: str, as_of: str | dt.datetime | None = None) -> Segment:
    """Compile segment ``name`` for the instant ``as_of`` (default: now, UTC)."""
    try:
        when = parse_as_of(as_of)
    except DateError as e:
        raise UsageError(f"--as-of: {e}") from None
    return _Compiler(ws, when).segment(name)


class _Compiler:
    def __init__(self, ws: Workspace, as_of: dt.datetime) -> None:
        self.ws, self.as_of = ws, as_of
        self.problems: list[Problem] = []
        self.stack: list[str] = []
        self.cache: dict[str, tuple[exp.Query, str, str]] = {}
        self.kinds: dict[str, dict[str, str]] = {}

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(_loc(self.ws, path), message))

    def segment(self, name: str) -> Segment:
        query, key, kind = self.compile(name)
        if self.problems:
            raise ConfigError(self.problems)
        return Segment(self.ws, name, query, key, self.as_of, kind)

    def compile(self, name: str) -> tuple[exp.Query, str, str]:
        if name in self.cache:
            return self.cache[name]
        spec = spec_of(self.ws, name)
        self.stack.append(name)
        try:
            query, key = self._sql(spec) if spec.kind == "sql" else self._yaml(spec)
        finally:
            self.stack.pop()
        self.cache[name] = (query, key, spec.kind)
        return self.cache[name]

    def member(self, other: str, path: str) -> tuple[exp.Query, str]:
        if other in self.stack:
            raise LookupError(f"segment membership forms a cycle: {' -> '.join(self.stack + [other])}")
        if other not in segment_names(self.ws):
            names = segment_names(self.ws)
            raise LookupError(f"no segment named '{other}'. " + (did_you_mean(other, names) or ""))
        query, key, _ = self.compile(other)
        return query.copy(), key

    def _sql(self, spec: SegmentSpec) -> tuple[exp.Query, str]:
        from pathlib import Path

        from federation.sqlfront import bind_params, parse_query

        path = f"segments.{spec.name}"
        text = spec.raw.get("sql")
        if text is None:
            text = Path(spec.raw["sql_file"]).read_text()
        if not isinstance(text, str):
            self.problem(path + ".sql", "'sql' must be a query text")
            return exp.select("1"), "customer_id"
        query = parse_query(text, "postgres")
        query = bind_params(query, {"as_of": iso(self.as_of)} if ":as_of" in text.lower() else None, text)
        key = spec.raw.get("key")
        names = [s.lower() for s in query.named_selects]
        if key is None:
            key = "customer_id" if "customer_id" in names else (names[0] if names else "customer_id")
        elif key.lower() not in names and "*" not in names:
            self.problem(path + ".key", f"key '{key}' is not a column of the segment's query")
        return query, key

    def _yaml(self, spec: SegmentSpec) -> tuple[exp.Query, str]:
        raw, path = spec.raw, f"segments.{spec.name}"
        for k in raw:
            if k not in _KEYS:
                self.problem(f"{path}.{k}", f"unknown key '{k}'. " + (did_you_mean(k, sorted(_KEYS)) or f"Keys: {', '.join(sorted(_KEYS))}."))
        source = raw.get("from", "customers")
        if not isinstance(source, str) or not TABLE.match(source):
            self.problem(f"{path}.from", f"'{source}' is not an entity or source.table name")
            source = "customers"
        key = raw.get("key") or self._default_key(source)
        if not isinstance(key, str) or not NAME.match(key):
            self.problem(f"{path}.key", f"'{key}' is not a valid column name")
            key = "customer_id"
        events = self._relation(self._events(raw.get("events"), f"{path}.events"), raw.get("events") or {}, source)
        ctx = Ctx(self.as_of, events, self.member, self.time_kind, self.problem)
        where = compile_conditions(ctx, raw.get("where"), f"{path}.where", "s", source, key)
        query = exp.select(exp.Star()).from_(exp.to_table(source).as_("s"))
        if where is not None:
            query = query.where(where)
        return query, key

    def _default_key(self, source: str) -> str:
        model = self.ws.model if "." not in source else None
        if model is not None and source in model.entities:
            ent = model.entities[source]
            return ent.id_field or ent.key or "customer_id"
        return "customer_id"

    def _events(self, raw: Any, path: str) -> EventDefaults:
        if raw is None:
            return EventDefaults()
        if not isinstance(raw, dict):
            self.problem(path, "'events' must be a mapping (from, key, name, time)")
            return EventDefaults()
        unknown = set(raw) - {"from", "key", "name", "time"}
        for k in sorted(unknown):
            self.problem(f"{path}.{k}", f"unknown key '{k}'; keys: from, key, name, time")
        base = EventDefaults()
        return EventDefaults(str(raw.get("from", base.source)), str(raw.get("key", base.key)),
                             str(raw.get("name", base.name)), str(raw.get("time", base.time)))

    def _relation(self, d: EventDefaults, raw: Any, source: str) -> EventDefaults:
        """With a model, the events entity's relation to the segment's entity gives the join columns."""
        model = self.ws.model if "." not in d.source else None
        if model is None or d.source not in model.entities or (isinstance(raw, dict) and "key" in raw):
            return d
        for rel in model.entities[d.source].relations.values():
            if rel.entity == source and len(rel.on) == 1:
                (local, target), = rel.on.items()
                return EventDefaults(d.source, local, d.name, d.time, target)
        return d

    def time_kind(self, table: str, col: str) -> str:
        """How a time column is typed, from a zero-row probe of its relation."""
        if table not in self.kinds:
            self.kinds[table] = _probe_types(self.ws, table)
        t = self.kinds[table].get(col.lower(), "")
        if t.startswith(("string", "large_string")):
            return "text"
        if t.startswith("date"):
            return "date"
        return "timestamp"


def _probe_types(ws: Workspace, table: str) -> dict[str, str]:
    from federation.errors import CdpError

    q = exp.select(exp.Star()).from_(exp.to_table(table)).limit(0)
    try:
        schema = ws.query(q.sql(dialect="postgres")).schema
    except CdpError:  # the real error surfaces when the segment runs
        return {}
    return {f.name.lower(): str(f.type) for f in schema}
