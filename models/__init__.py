"""The virtual unified customer model: entities over sources, identity merge,
survivorship, ID stitching and relations. See models/README.md for the YAML."""

from __future__ import annotations

from models.model import Model, load_model

__all__ = ["Model", "load_model"]
