"""Salesforce destination: sObject Collections upsert by external id (≤200 per request).

- upsert: ``PATCH /services/data/{version}/composite/sobjects/{object}/{external_id}``
  with ``{"allOrNone": false, "records": [{"attributes": {"type": object},
  external_id: key, ...fields}]}``; the answer lists one result per record, in
  order: failures (``errors[0].statusCode``) are row-level errors, the others'
  ``id`` is kept in the sync state;
- ``mirror`` mode deletes records that left the audience with ``DELETE
  /services/data/{version}/composite/sobjects?ids=...&allOrNone=false`` (only ids
  this audience upserted earlier).

Options: ``base_url``, ``token_env`` (environment variable holding an OAuth
access token), or ``source`` (a declared salesforce source with a ``token``), ``object`` (``Contact``), ``external_id`` (an external-id field),
``api_version`` (``v60.0``), ``rate_limit``, ``retry_budget``. Delivered field
names must be the object's API field names.
"""

from __future__ import annotations

from typing import Any

from connectors.destinations.base import Batch, BatchRejected, BatchResult, Destination, env_secret, json_safe
from federation.errors import UserError


class SalesforceDestination(Destination):
    type = "salesforce"
    max_batch = 200  # sObject Collections limit

    def __init__(self, options: dict[str, Any], audience: str, key: str) -> None:
        from connectors.crm.http import CrmHttp

        self.audience, self.key = audience, key
        self.object = str(options.get("object") or "Contact")
        self.external_id = options.get("external_id")
        if not self.external_id:
            raise UserError(f"audience {audience}: salesforce destination needs `external_id` (an external-id field)")
        self.version = str(options.get("api_version") or "v60.0")
        base = str(options.get("base_url") or "")
        if not base:
            raise UserError(f"audience {audience}: salesforce destination needs `base_url` (the org's instance URL)")
        token = options.get("_token") or env_secret(options.get("token_env") or "SALESFORCE_TOKEN", "an access token",
                           f"salesforce of audience {audience}")
        self.http = CrmHttp(f"salesforce:{audience}", "salesforce", base,
                            headers=lambda: {"Authorization": f"Bearer {token}"}, credential=token,
                            rates={"default": float(options.get("rate_limit", 20.0))},
                            retry_budget=float(options.get("retry_budget", 60.0)))

    def send(self, batch: Batch) -> BatchResult:
        if batch.op == "delete":
            return self._delete(batch)
        records = []
        for k, row in zip(batch.keys, batch.rows):
            rec = {"attributes": {"type": self.object}}
            rec.update({n: v for n, v in json_safe(row).items() if n != self.key})
            rec[str(self.external_id)] = k
            records.append(rec)
        path = f"/services/data/{self.version}/composite/sobjects/{self.object}/{self.external_id}"
        resp = self.http.request("PATCH", path, json={"allOrNone": False, "records": records}, ok=(200, 400))
        if resp.status == 400 or not isinstance(resp.data, list) or len(resp.data) != len(batch.keys):
            raise BatchRejected("Salesforce answered 400" + _code(resp.data))
        return _results(batch.keys, resp.data)

    def _delete(self, batch: Batch) -> BatchResult:
        pairs = [(k, r) for k, r in zip(batch.keys, batch.refs) if r]
        out = BatchResult(ok={k: None for k, r in zip(batch.keys, batch.refs) if not r})
        if pairs:
            resp = self.http.request("DELETE", f"/services/data/{self.version}/composite/sobjects",
                                     params={"ids": ",".join(r for _, r in pairs), "allOrNone": "false"}, ok=(200, 400))
            if resp.status == 400 or not isinstance(resp.data, list):
                raise BatchRejected("Salesforce answered 400" + _code(resp.data))
            res = _results([k for k, _ in pairs], resp.data)
            # a record already gone (ENTITY_IS_DELETED) is what we wanted
            for k, why in list(res.failed.items()):
                if "ENTITY_IS_DELETED" in why:
                    res.ok[k] = None
                    del res.failed[k]
            out.ok.update(res.ok)
            out.failed.update(res.failed)
        return out

    def stats(self) -> dict[str, int]:
        s = self.http.stats.snapshot()
        return {"requests": s["requests"], "retries": s["retries"]}

    def finish(self, ok: bool) -> list[tuple[Batch, BatchResult]]:
        self.http.close()
        return []


def _results(keys: list[str], data: list[Any]) -> BatchResult:
    out = BatchResult()
    for k, res in zip(keys, data):
        if isinstance(res, dict) and res.get("success"):
            out.ok[k] = res.get("id")
        else:
            errs = (res or {}).get("errors") or [{}]
            out.failed[k] = f"Salesforce {errs[0].get('statusCode', 'error')}: {str(errs[0].get('message', ''))[:200]}"
    return out


def _code(data: Any) -> str:
    if isinstance(data, list) and data and isinstance(data[0], dict) and isinstance(data[0].get("errorCode"), str):
        return f" ({data[0]['errorCode']})"
    return ""
