"""Reverse-ETL syncs of audiences: state (state.py), diff (diff.py), runs (runner.py), logs (log.py).

>>> from federation.sync import run_sync
>>> log = run_sync(ws, "churn_risk", mode="incremental")
>>> print(log.summary())
"""

from __future__ import annotations

from typing import Any


def run_sync(*args: Any, **kw: Any) -> Any:
    from federation.sync.runner import run_sync as _run

    return _run(*args, **kw)


__all__ = ["run_sync"]
