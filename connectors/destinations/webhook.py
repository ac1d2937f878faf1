"""Webhook destination: batched JSON POSTs with an idempotency key per batch.

Each request is ``POST url`` with the header ``Idempotency-Key: <32 hex>`` (the
same records with the same content always give the same key, so a batch resent
after a crash can be recognised downstream) and the body::

    {"audience": "churn", "op": "upsert" | "delete", "mode": "incremental",
     "key": "email", "batch_id": "<idempotency key>", "records": [{...}, ...]}

Answers: 2xx acknowledges the batch; a 2xx body ``{"errors": [{"key": k,
"message": m}]}`` (or ``"index": i``) fails those records only; 400, 413 and
422 reject the whole batch (it is split to isolate the bad record); 429 and 5xx
are retried with backoff, honouring Retry-After, within ``retry_budget``
seconds. Options: ``url``, ``batch_size`` (records per POST, default 500), ``auth_env`` (an environment variable holding the
credential), ``auth_header`` (``Authorization``), ``auth_scheme`` (``Bearer``;
empty for the raw value), ``headers``, ``timeout``, ``retry_budget``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from connectors.destinations.base import Batch, BatchRejected, BatchResult, Destination, env_secret, json_safe
from federation.errors import UserError

REJECT = (400, 413, 422)


class WebhookDestination(Destination):
    type = "webhook"
    max_batch = 10_000
    default_batch = 500

    def __init__(self, options: dict[str, Any], audience: str, key: str) -> None:
        from connectors.crm.http import CrmHttp

        url = options.get("url")
        parts = urlsplit(str(url or ""))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UserError(f"audience {audience}: webhook destination needs a `url` (http or https)")
        self.audience, self.key = audience, key
        self.path = parts.path or "/"
        self.query = parts.query
        token = env_secret(options.get("auth_env"), "a credential", f"webhook of audience {audience}")
        header = str(options.get("auth_header") or "Authorization")
        scheme = str(options.get("auth_scheme", "Bearer") or "")
        extra = {str(k): str(v) for k, v in (options.get("headers") or {}).items()}
        auth = {header: f"{scheme} {token}".strip()} if token else {}
        self._headers = {**extra, **auth}
        self.http = CrmHttp(f"webhook:{audience}", "webhook", f"{parts.scheme}://{parts.netloc}",
                            headers=lambda: self._headers, credential=token,
                            timeout=float(options.get("timeout", 30.0)),
                            retry_budget=float(options.get("retry_budget", 60.0)))
        self._idem = ""
        if options.get("batch_size"):
            self.default_batch = int(options["batch_size"])

    def send(self, batch: Batch) -> BatchResult:
        self._idem = batch.idempotency_key
        body = {"audience": self.audience, "op": batch.op, "mode": self.mode, "key": self.key,
                "batch_id": self._idem, "records": [json_safe(r) for r in batch.rows]}
        self._headers["Idempotency-Key"] = self._idem
        params = dict(p.split("=", 1) for p in self.query.split("&") if "=" in p) if self.query else None
        resp = self.http.request("POST", self.path, params=params, json=body, ok=(200, 201, 202, 204, 207, *REJECT))
        if resp.status in REJECT:
            raise BatchRejected(f"webhook answered {resp.status}" + _code(resp.data))
        failed: dict[str, str] = {}
        errors = resp.data.get("errors") if isinstance(resp.data, dict) else None
        for err in errors or []:
            if not isinstance(err, dict):
                continue
            key = err.get("key")
            if key is None and isinstance(err.get("index"), int) and 0 <= err["index"] < len(batch.keys):
                key = batch.keys[err["index"]]
            if key is not None and str(key) in batch.keys:
                failed[str(key)] = f"webhook rejected the record: {str(err.get('message') or 'no reason given')[:200]}"
        ok = {k: None for k in batch.keys if k not in failed}
        return BatchResult(ok=ok, failed=failed)

    def stats(self) -> dict[str, int]:
        s = self.http.stats.snapshot()
        return {"requests": s["requests"], "retries": s["retries"]}

    def finish(self, ok: bool) -> list[tuple[Batch, BatchResult]]:
        self.http.close()
        return []


def _code(data: Any) -> str:
    """A short vendor code from an error body (never the body itself)."""
    if isinstance(data, dict):
        code = data.get("code") or data.get("error")
        if isinstance(code, str) and len(code) <= 64:
            return f" ({code})"
    return ""
