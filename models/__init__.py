"""The virtual unified customer model: entities over sources, identity merge,
survivorship, ID stitching and relations. See models/README.md for the YAML.

Imports are lazy so that ``cdp --help`` (which mounts ``models.cli``) does not
load sqlglot."""

from __future__ import annotations

from typing import Any

__all__ = ["Model", "load_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from models import model

        return getattr(model, name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
