"""The demo's segment queries: realistic questions a marketer asks, over three sources.

Each names the sources it reads; a query whose sources are not all in the
workspace is skipped (e.g. ``crm`` when the HubSpot emulator is not running).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cli.demo_data import AS_OF


@dataclass(frozen=True)
class Segment:
    title: str
    why: str
    sql: str
    sources: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


SINCE_90D = (AS_OF - dt.timedelta(days=90)).strftime("%Y-%m-%d %H:%M:%S")

SEGMENTS = (
    Segment(
        "One customer profile from two sources",
        "the `customers` entity merges the shop and the newsletter on a normalised email",
        """
SELECT _sources AS seen_in, count(*) AS customers,
       count(marketing_opt_in) FILTER (WHERE marketing_opt_in) AS opted_in
FROM customers
GROUP BY _sources
ORDER BY customers DESC
""",
        ("shop", "newsletter"),
    ),
    Segment(
        "Engaged buyers in Germany",
        "customers in DE with at least 3 purchase events in the last 90 days",
        """
SELECT c.customer_id, c.email, count(*) AS purchases_90d
FROM customers AS c
JOIN events AS e ON e.shop_id = c.shop_id
WHERE c.country = :country
  AND e.event = 'purchase'
  AND e.ts >= CAST(:since AS TIMESTAMP)
GROUP BY c.customer_id, c.email
HAVING count(*) >= 3
ORDER BY purchases_90d DESC, c.email
""",
        ("shop", "events", "newsletter"),
        {"country": "DE", "since": SINCE_90D},
    ),
    Segment(
        "Top 10 customers by lifetime value",
        "paid order value per customer, with their most recent event",
        """
WITH ltv AS (
  SELECT shop_id, sum(amount) AS lifetime_value, count(*) AS paid_orders
  FROM orders
  WHERE status = 'paid'
  GROUP BY shop_id
), last_seen AS (
  SELECT shop_id, max(ts) AS last_event_at
  FROM events
  GROUP BY shop_id
)
SELECT c.email, c.country, round(l.lifetime_value, 2) AS lifetime_value,
       l.paid_orders, s.last_event_at
FROM ltv AS l
JOIN customers AS c ON c.shop_id = l.shop_id
LEFT JOIN last_seen AS s ON s.shop_id = c.shop_id
ORDER BY l.lifetime_value DESC, c.email
LIMIT 10
""",
        ("shop", "events", "newsletter"),
    ),
    Segment(
        "Buyers who never showed up online",
        "customers with orders but no tracked events (win-back candidates)",
        """
SELECT c.email, c.country, count(*) AS orders
FROM customers AS c
JOIN orders AS o ON o.shop_id = c.shop_id
WHERE NOT EXISTS (SELECT 1 FROM events AS e WHERE e.shop_id = c.shop_id)
GROUP BY c.email, c.country
ORDER BY orders DESC, c.email
LIMIT 10
""",
        ("shop", "events", "newsletter"),
    ),
    Segment(
        "Open support tickets by topic, with the revenue at stake",
        "joins the help desk CSV to the shop on a normalised email",
        """
SELECT t.topic, count(DISTINCT c.customer_id) AS customers, round(sum(o.amount), 2) AS revenue_at_stake
FROM tickets AS t
JOIN customers AS c ON c.email = t.email
JOIN orders AS o ON o.shop_id = c.shop_id
WHERE t.status = 'open' AND o.status = 'paid'
GROUP BY t.topic
ORDER BY revenue_at_stake DESC
""",
        ("support", "shop", "newsletter"),
    ),
)
