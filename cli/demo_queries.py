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
        "Engaged buyers in Germany",
        "customers in DE with at least 3 purchase events in the last 90 days",
        """
SELECT c.id, lower(c.email) AS email, count(*) AS purchases_90d
FROM shop.customers AS c
JOIN events.events AS e ON e.customer_id = c.id
WHERE c.country = :country
  AND e.event = 'purchase'
  AND e.ts >= CAST(:since AS TIMESTAMP)
GROUP BY c.id, lower(c.email)
HAVING count(*) >= 3
ORDER BY purchases_90d DESC, c.id
""",
        ("shop", "events"),
        {"country": "DE", "since": SINCE_90D},
    ),
    Segment(
        "Top 10 customers by lifetime value",
        "paid order value per customer, with their most recent event",
        """
WITH ltv AS (
  SELECT customer_id, sum(amount) AS lifetime_value, count(*) AS paid_orders
  FROM shop.orders
  WHERE status = 'paid'
  GROUP BY customer_id
), last_seen AS (
  SELECT customer_id, max(ts) AS last_event_at
  FROM events.events
  GROUP BY customer_id
)
SELECT c.id, lower(c.email) AS email, c.country, round(l.lifetime_value, 2) AS lifetime_value,
       l.paid_orders, s.last_event_at
FROM ltv AS l
JOIN shop.customers AS c ON c.id = l.customer_id
LEFT JOIN last_seen AS s ON s.customer_id = c.id
ORDER BY l.lifetime_value DESC, c.id
LIMIT 10
""",
        ("shop", "events"),
    ),
    Segment(
        "Buyers who never showed up online",
        "customers with orders but no tracked events (win-back candidates)",
        """
SELECT c.id, lower(c.email) AS email, c.country, count(*) AS orders
FROM shop.customers AS c
JOIN shop.orders AS o ON o.customer_id = c.id
WHERE NOT EXISTS (SELECT 1 FROM events.events AS e WHERE e.customer_id = c.id)
GROUP BY c.id, lower(c.email), c.country
ORDER BY orders DESC, c.id
LIMIT 10
""",
        ("shop", "events"),
    ),
    Segment(
        "Open support tickets by topic, with the revenue at stake",
        "joins the help desk CSV to the shop on a normalised email",
        """
SELECT t.topic, count(DISTINCT c.id) AS customers, round(sum(o.amount), 2) AS revenue_at_stake
FROM support.tickets AS t
JOIN shop.customers AS c ON lower(c.email) = t.email
JOIN shop.orders AS o ON o.customer_id = c.id
WHERE t.status = 'open' AND o.status = 'paid'
GROUP BY t.topic
ORDER BY revenue_at_stake DESC
""",
        ("support", "shop"),
    ),
)
