"""CRM API connectors (HubSpot, Salesforce, Dynamics 365, Zoho, Pipedrive).

Shared parts: ``http`` (client with per-account rate limiting and retries),
``predicates`` (walking sqlglot predicates into API filters), ``types`` (wire
values to Arrow). Each vendor module implements ``connectors.base.Connector``.
"""
