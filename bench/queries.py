"""The bench's segment queries, each as fedcdp SQL, DuckDB SQL and a pandas script.

``needed`` gives, per source, a DuckDB query counting the rows that source must
contribute to the answer: the yardstick for "rows fetched". ``{events}`` and
``{crm}`` in the DuckDB texts are the events folder and the CRM contacts file.

The ``crm`` queries read HubSpot contacts through the emulator (bench/crm.py).
DuckDB cannot read HubSpot, so their ``duckdb`` is None; the contacts file it
reads for ``needed`` is the data the emulator serves, counted, never timed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

EV = "read_parquet('{events}/**/*.parquet', hive_partitioning = true)"


@dataclass(frozen=True)
class BenchQuery:
    name: str
    what: str
    fedcdp: str
    duckdb: str | None
    pandas: Callable[[Any], Any]
    needed: dict[str, str] = field(default_factory=dict)

    @property
    def uses_crm(self) -> bool:
        """Whether the query reads the HubSpot source (the bench then serves the emulator)."""
        return "crm." in self.fedcdp


def _q_attr(src):  # type: ignore[no-untyped-def]
    c = src.customers()
    return c[(c.country == "DE") & (c.ltv > 4000)][["id", "email"]]


def _q_event_window(src):  # type: ignore[no-untyped-def]
    e = src.events()
    e = e[(e.name == "purchase") & (e.ts >= "2024-12-01")]
    g = e.groupby("customer_id").size().reset_index(name="n")
    return g[g.n >= 2]


def _q_selective_join(src):  # type: ignore[no-untyped-def]
    c, e = src.customers(), src.events()
    c = c[c.country == "LU"]
    e = e[e.name == "purchase"]
    return c.merge(e, left_on="id", right_on="customer_id")[["id", "email", "ts"]]


def _q_audience(src):  # type: ignore[no-untyped-def]
    c, o, e = src.customers(), src.orders(), src.events()
    c = c[(c.country == "NL") & (c.ltv > 1000)]
    paid = o[(o.status == "paid") & (o.created_at >= "2024-10-01")].customer_id.unique()
    clicked = e[(e.name == "click") & (e.ts >= "2024-12-01")].customer_id.unique()
    return c[c.id.isin(paid) & c.id.isin(clicked)][["id", "email"]]


def _q_topn(src):  # type: ignore[no-untyped-def]
    c, o = src.customers(), src.orders()
    s = o[o.status == "paid"].groupby("customer_id").amount.sum().reset_index()
    m = c.merge(s, left_on="id", right_on="customer_id")
    return m.nlargest(100, "amount")[["id", "email", "amount"]]


def _q_country_revenue(src):  # type: ignore[no-untyped-def]
    c, o = src.customers(), src.orders()
    m = o.merge(c, left_on="customer_id", right_on="id")
    return m.groupby("country").agg(n=("amount", "size"), revenue=("amount", "sum")).reset_index()


def _q_last_event_vip(src):  # type: ignore[no-untyped-def]
    c, e = src.customers(), src.events()
    c = c[c.vip & (c.country == "AT")]
    e = e[e.customer_id.isin(c.id)]
    last = e.sort_values("ts").groupby("customer_id").tail(1)
    return c.merge(last, left_on="id", right_on="customer_id")[["id", "name", "ts"]]


def _q_dormant(src):  # type: ignore[no-untyped-def]
    c, e = src.customers(), src.events()
    c = c[(c.country == "ES") & (c.ltv > 3000)]
    active = e[e.ts >= "2024-12-15"].customer_id.unique()
    return c[~c.id.isin(active)][["id", "email"]]


def _q_crm_leads(src):  # type: ignore[no-untyped-def]
    c = src.contacts()
    c = c[(c.country == "DE") & (c.lifecyclestage == "lead") & (c.hs_lead_status == "OPEN")]
    return c[["id", "email", "firstname", "lastname", "createdate"]]


def _q_crm_mql_ltv(src):  # type: ignore[no-untyped-def]
    h, w = src.contacts(), src.customers()
    h = h[(h.country == "DE") & (h.lifecyclestage == "marketingqualifiedlead")]
    w = w[w.ltv > 2000]
    m = h.merge(w, on="email", suffixes=("_crm", ""))
    return m[["id", "email", "firstname", "lastname", "ltv"]]


CRM = "read_parquet('{crm}')"
MQL = "h.country = 'DE' AND h.lifecyclestage = 'marketingqualifiedlead'"

QUERIES = [
    BenchQuery(
        "attribute_filter", "DE customers with lifetime value over 4000",
        "SELECT id, email FROM wh.customers WHERE country = 'DE' AND ltv > 4000",
        "SELECT id, email FROM pg.bench.customers WHERE country = 'DE' AND ltv > 4000", _q_attr,
        {"wh": "SELECT count(*) FROM pg.bench.customers WHERE country = 'DE' AND ltv > 4000"}),
    BenchQuery(
        "event_count_window", "customers with at least 2 purchases in December",
        "SELECT customer_id, count(*) AS n FROM ev.events WHERE name = 'purchase' AND ts >= TIMESTAMP '2024-12-01 00:00:00+00' GROUP BY customer_id HAVING count(*) >= 2",
        f"SELECT customer_id, count(*) AS n FROM {EV} WHERE name = 'purchase' AND ts >= TIMESTAMP '2024-12-01 00:00:00+00' GROUP BY customer_id HAVING count(*) >= 2",
        _q_event_window,
        {"ev": f"SELECT count(*) FROM {EV} WHERE name = 'purchase' AND ts >= TIMESTAMP '2024-12-01 00:00:00+00'"}),
    BenchQuery(
        "selective_cross_join", "purchase events of customers in Luxembourg (small side: customers)",
        "SELECT c.id, c.email, e.ts FROM wh.customers c JOIN ev.events e ON e.customer_id = c.id WHERE c.country = 'LU' AND e.name = 'purchase'",
        f"SELECT c.id, c.email, e.ts FROM pg.bench.customers c JOIN {EV} e ON e.customer_id = c.id WHERE c.country = 'LU' AND e.name = 'purchase'",
        _q_selective_join,
        {"wh": "SELECT count(*) FROM pg.bench.customers WHERE country = 'LU'",
         "ev": f"SELECT count(*) FROM {EV} e JOIN pg.bench.customers c ON e.customer_id = c.id WHERE c.country = 'LU' AND e.name = 'purchase'"}),
    BenchQuery(
        "audience_conditions", "NL customers, ltv > 1000, paid since October and clicked in December",
        "SELECT c.id, c.email FROM wh.customers c WHERE c.country = 'NL' AND c.ltv > 1000 "
        "AND c.id IN (SELECT customer_id FROM wh.orders WHERE status = 'paid' AND created_at >= TIMESTAMP '2024-10-01 00:00:00+00') "
        "AND EXISTS (SELECT 1 FROM ev.events e WHERE e.customer_id = c.id AND e.name = 'click' AND e.ts >= TIMESTAMP '2024-12-01 00:00:00+00')",
        "SELECT c.id, c.email FROM pg.bench.customers c WHERE c.country = 'NL' AND c.ltv > 1000 "
        "AND c.id IN (SELECT customer_id FROM pg.bench.orders WHERE status = 'paid' AND created_at >= TIMESTAMP '2024-10-01 00:00:00+00') "
        f"AND EXISTS (SELECT 1 FROM {EV} e WHERE e.customer_id = c.id AND e.name = 'click' AND e.ts >= TIMESTAMP '2024-12-01 00:00:00+00')",
        _q_audience,
        {"wh": "SELECT count(*) FROM pg.bench.customers WHERE country = 'NL' AND ltv > 1000",
         "ev": f"SELECT count(DISTINCT customer_id) FROM {EV} WHERE name = 'click' AND ts >= TIMESTAMP '2024-12-01 00:00:00+00'"}),
    BenchQuery(
        "top_ltv", "top 100 customers by paid order value",
        "SELECT c.id, c.email, sum(o.amount) AS ltv FROM wh.customers c JOIN wh.orders o ON o.customer_id = c.id WHERE o.status = 'paid' GROUP BY c.id, c.email ORDER BY ltv DESC LIMIT 100",
        "SELECT c.id, c.email, sum(o.amount) AS ltv FROM pg.bench.customers c JOIN pg.bench.orders o ON o.customer_id = c.id WHERE o.status = 'paid' GROUP BY c.id, c.email ORDER BY ltv DESC LIMIT 100",
        _q_topn, {"wh": "SELECT 100"}),
    BenchQuery(
        "country_revenue", "orders and revenue per country",
        "SELECT c.country, count(*) AS n, sum(o.amount) AS revenue FROM wh.orders o JOIN wh.customers c ON c.id = o.customer_id GROUP BY c.country",
        "SELECT c.country, count(*) AS n, sum(o.amount) AS revenue FROM pg.bench.orders o JOIN pg.bench.customers c ON c.id = o.customer_id GROUP BY c.country",
        _q_country_revenue, {"wh": "SELECT 10"}),
    BenchQuery(
        "last_event_of_vips", "the last event of each VIP customer in Austria (window)",
        "SELECT id, name, ts FROM (SELECT c.id, e.name, e.ts, row_number() OVER (PARTITION BY c.id ORDER BY e.ts DESC) AS rn "
        "FROM wh.customers c JOIN ev.events e ON e.customer_id = c.id WHERE c.vip AND c.country = 'AT') x WHERE rn = 1",
        "SELECT id, name, ts FROM (SELECT c.id, e.name, e.ts, row_number() OVER (PARTITION BY c.id ORDER BY e.ts DESC) AS rn "
        f"FROM pg.bench.customers c JOIN {EV} e ON e.customer_id = c.id WHERE c.vip AND c.country = 'AT') x WHERE rn = 1",
        _q_last_event_vip,
        {"wh": "SELECT count(*) FROM pg.bench.customers WHERE vip AND country = 'AT'",
         "ev": f"SELECT count(*) FROM {EV} e JOIN pg.bench.customers c ON e.customer_id = c.id WHERE c.vip AND c.country = 'AT'"}),
    BenchQuery(
        "dormant_high_value", "ES customers with ltv > 3000 and no event since mid-December (anti-join)",
        "SELECT c.id, c.email FROM wh.customers c WHERE c.country = 'ES' AND c.ltv > 3000 "
        "AND NOT EXISTS (SELECT 1 FROM ev.events e WHERE e.customer_id = c.id AND e.ts >= TIMESTAMP '2024-12-15 00:00:00+00')",
        "SELECT c.id, c.email FROM pg.bench.customers c WHERE c.country = 'ES' AND c.ltv > 3000 "
        f"AND NOT EXISTS (SELECT 1 FROM {EV} e WHERE e.customer_id = c.id AND e.ts >= TIMESTAMP '2024-12-15 00:00:00+00')",
        _q_dormant,
        {"wh": "SELECT count(*) FROM pg.bench.customers WHERE country = 'ES' AND ltv > 3000",
         "ev": f"SELECT count(DISTINCT customer_id) FROM {EV} WHERE ts >= TIMESTAMP '2024-12-15 00:00:00+00'"}),
    BenchQuery(
        "crm_attribute_filter", "HubSpot: German leads with lead status OPEN (pushed into the search API)",
        "SELECT id, email, firstname, lastname, createdate FROM crm.contacts "
        "WHERE country = 'DE' AND lifecyclestage = 'lead' AND hs_lead_status = 'OPEN'",
        None, _q_crm_leads,
        {"crm": f"SELECT count(*) FROM {CRM} WHERE country = 'DE' AND lifecyclestage = 'lead' AND hs_lead_status = 'OPEN'"}),
    BenchQuery(
        "crm_mql_high_ltv", "HubSpot marketing-qualified leads in Germany whose warehouse ltv is over 2000 (CRM x PostgreSQL)",
        "SELECT c.id, c.email, h.firstname, h.lastname, c.ltv FROM crm.contacts h JOIN wh.customers c ON c.email = h.email "
        f"WHERE {MQL} AND c.ltv > 2000",
        None, _q_crm_mql_ltv,
        {"crm": f"SELECT count(*) FROM {CRM} h JOIN pg.bench.customers c ON c.email = h.email WHERE {MQL} AND c.ltv > 2000",
         "wh": f"SELECT count(*) FROM {CRM} h JOIN pg.bench.customers c ON c.email = h.email WHERE {MQL} AND c.ltv > 2000"}),
]
