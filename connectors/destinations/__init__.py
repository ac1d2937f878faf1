"""Destinations of audience syncs: files, webhooks, HubSpot, Salesforce.

``create_destination(audience, workspace_root)`` builds the destination an
audience names; the protocol is in ``connectors.destinations.base``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.destinations.base import Destination


def create_destination(options: dict[str, Any], audience: str, key: str, root: Path, schema: Any = None,
                       sources: Any = None) -> Destination:
    """``source: NAME`` on a hubspot/salesforce destination reuses that declared source's
    ``base_url`` and ``token`` (so the credential is configured once, from the environment)."""
    kind = options.get("type")
    if kind in ("hubspot", "salesforce") and options.get("source"):
        options = _from_source(options, audience, sources or {})
    if kind in ("csv", "parquet"):
        from connectors.destinations.files import FileDestination
        from federation.errors import UserError

        if not options.get("path"):
            raise UserError(f"audience {audience}: {kind} destination needs a `path`")
        path = Path(str(options["path"]))
        return FileDestination(path if path.is_absolute() else Path(root) / path, str(kind), schema)
    if kind == "webhook":
        from connectors.destinations.webhook import WebhookDestination

        return WebhookDestination(options, audience, key)
    if kind == "hubspot":
        from connectors.destinations.hubspot import HubSpotDestination

        return HubSpotDestination(options, audience, key)
    if kind == "salesforce":
        from connectors.destinations.salesforce import SalesforceDestination

        return SalesforceDestination(options, audience, key)
    from federation.errors import UserError

    raise UserError(f"audience {audience}: unknown destination type '{kind}'")


def _from_source(options: dict[str, Any], audience: str, sources: Any) -> dict[str, Any]:
    from federation.errors import UserError, did_you_mean

    name = str(options["source"])
    cfg = sources.get(name)
    if cfg is None or cfg.type != options["type"]:
        names = [n for n, c in sources.items() if c.type == options["type"]]
        raise UserError(f"audience {audience}: destination source '{name}' is not a {options['type']} source",
                        hint=did_you_mean(name, names) or f"{options['type']} sources: {', '.join(names) or '(none)'}.")
    merged = {"base_url": cfg.options.get("base_url")}
    merged.update(options)
    merged["_token"] = cfg.options.get("token")
    return merged
