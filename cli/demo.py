"""``cdp demo``: build the demo data if missing, then run segment queries, showing
for each what every source received (from ``Workspace.explain``) and the answer.

The optional CRM part starts the HubSpot emulator as a subprocess on a free
loopback port and adds it as source ``crm`` (see ``crm.py``); everything else is
embedded: no credentials, no network.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli import demo_data
from cli.demo_queries import SEGMENTS, Segment

if TYPE_CHECKING:
    from federation.workspace import Workspace


class Screen:
    """Rich output on a terminal; plain text, no progress, when piped."""

    def __init__(self, rich: bool) -> None:
        self.rich = rich
        self.console: Any = None
        if rich:
            from rich.console import Console

            self.console = Console(highlight=False)

    def heading(self, text: str, sub: str = "") -> None:
        if self.rich:
            self.console.rule(f"[bold]{text}[/bold]")
            if sub:
                self.console.print(f"[italic]{sub}[/italic]")
        else:
            print(f"\n== {text} ==" + (f"\n{sub}" if sub else ""))

    def text(self, text: str, style: str = "") -> None:
        if self.rich:
            from rich.markup import escape

            self.console.print(f"[{style}]{escape(text)}[/{style}]" if style else escape(text))
        else:
            print(text)

    def table(self, table: Any) -> None:
        from cli import output

        if self.rich:
            output.print_rich_table(table)
        else:
            sys.stdout.write(output.plain_table(table))

    def status(self, message: str) -> Any:
        import contextlib

        return self.console.status(message) if self.rich else contextlib.nullcontext()


def run(root: Path, *, rebuild: bool = False, with_crm: bool = True, screen: Screen | None = None) -> int:
    """The whole demo; returns how many segment queries ran."""
    from federation.workspace import Workspace

    screen = screen or Screen(sys.stdout.isatty())
    t0 = time.perf_counter()
    data = root / "data"
    with screen.status("building demo data ...") as status:
        def progress(msg: str) -> None:
            if status is not None:
                status.update(f"building demo data: {msg} ...")

        written = demo_data.build(data, progress, force=rebuild)
    screen.text(f"demo data in {data}: " + (f"built {', '.join(written)}" if written else "already there"),
                "dim")
    from cli import crm

    with crm.maybe_start(enabled=with_crm) as emulator:
        ws = Workspace.load(root)
        try:
            if emulator is not None:
                crm.add_source(ws, emulator)
                screen.text(f"HubSpot emulator on {emulator.url}, added as source 'crm'", "dim")
            elif with_crm and crm.available():
                screen.text("the HubSpot emulator did not start in time; skipping the CRM segment", "yellow")
            n = run_segments(ws, screen, SEGMENTS + (crm.SEGMENTS if emulator is not None else ()))
        finally:
            ws.close()
    screen.text(f"\n{n} segment queries in {time.perf_counter() - t0:.1f} s", "bold")
    return n


def run_segments(ws: Workspace, screen: Screen, segments: tuple[Segment, ...]) -> int:
    have = set(ws.catalog.source_names)
    n = 0
    for seg in segments:
        missing = [s for s in seg.sources if s not in have]
        if missing:
            screen.text(f"skipping '{seg.title}': no source {', '.join(missing)} in this workspace", "yellow")
            continue
        screen.heading(seg.title, seg.why)
        screen.text(seg.sql.strip())
        if seg.params:
            screen.text("params: " + ", ".join(f":{k} = {v!r}" for k, v in seg.params.items()), "dim")
        plan = ws.explain(seg.sql, params=seg.params, analyze=True)
        screen.text("\nWhat each source received:", "bold")
        for line in plan_lines(plan):
            screen.text(line)
        t = time.perf_counter()
        result = ws.query(seg.sql, params=seg.params)
        screen.text(f"\nResult ({result.num_rows} rows, {time.perf_counter() - t:.2f} s):", "bold")
        screen.table(result)
        n += 1
    return n


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """A compact view of an explain document: one block per fragment, then Arrow's part."""
    import json

    out = []
    for f in plan["fragments"]:
        a = f.get("analyze") or {}
        fetched = f"  -> {a['rows']} rows in {a['seconds']:.3f} s" if a else ""
        out.append(f"  [{f['source']} ({f['source_type']})] {', '.join(f['tables'])}{fetched}")
        req = f["request"]
        for r in req.get("requests", [req]) if req.get("kind") == "multi" else [req]:
            if r.get("kind") == "sql":
                out.append(f"      SQL: {r['sql']}")
            elif r.get("kind") == "http":
                out.append(f"      HTTP {r.get('method')} {r.get('path')}")
                if r.get("body") is not None:
                    out.append(f"      body: {json.dumps(r['body'], sort_keys=True)}")
            else:
                shown = {k: r[k] for k in ("files", "files_total", "columns", "filter") if k in r}
                out.append(f"      {r.get('kind')}: {json.dumps(shown)}")
        if f.get("residual_filters"):
            out.append(f"      re-checked in Arrow: {' AND '.join(f['residual_filters'])}")
    ops = plan["arrow"]["operations"]
    out.append(f"  [arrow] {', '.join(ops) if ops else 'nothing: the source answered the whole query'}")
    return out
