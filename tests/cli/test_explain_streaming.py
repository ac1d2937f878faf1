"""explain names how query_batches and audiences stream a plan."""

from __future__ import annotations

from pathlib import Path

from federation import Workspace
from federation.explain import render_text


def test_explain_says_how_the_answer_streams(demo_ws: Path) -> None:
    with Workspace.load(demo_ws) as ws:
        merged = ws.explain("SELECT email, country FROM customers WHERE country = 'DE'")
        assert merged["arrow"]["streaming"]["mode"] == "key partitions"
        assert set(merged["arrow"]["streaming"]["keys"].values()) == {'LOWER(TRIM("email"))'}
        assert "streams in key partitions" in render_text(merged)
        join = ws.explain("SELECT e.event, c.country FROM events.events e JOIN shop.customers c ON c.id = e.customer_id "
                          "WHERE c.vip")
        assert join["arrow"]["streaming"] == {"mode": "pipeline", "streamed": join["fragments"][0]["id"]}
        assert "streams batch by batch" in render_text(join)
        ordered = ws.explain("SELECT e.event, count(*) AS n FROM events.events e GROUP BY e.event ORDER BY n")
        assert ordered["arrow"]["streaming"]["mode"] == "whole"
        single = ws.explain("SELECT id FROM shop.customers")
        assert single["arrow"]["streaming"]["mode"] == "source"
