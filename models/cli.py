"""``cdp model show|validate``: a typer sub-app the main CLI mounts.

Wiring (in cli/main.py)::

    from models.cli import model_app
    app.add_typer(model_app, name="model")

The workspace comes from, in order: ``ctx.obj`` when it is a callable returning
a Workspace (or a Workspace itself, or has a ``workspace()`` method), else the
loader given to ``configure(loader)``, else ``Workspace.load()`` (which reads
$CDP_WORKSPACE or ./configs). Errors (ConfigError, UsageError) go through
``cli.errors.guarded`` when the cli package is present: ``Error: ...`` on stderr
and the documented exit code.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, Optional

import typer

model_app = typer.Typer(help="The unified customer model: entities, fields, identity keys, relations.",
                        no_args_is_help=True)
_loader: Callable[[], Any] | None = None


def configure(loader: Callable[[], Any]) -> None:
    """Tell the sub-app how to get the current Workspace."""
    global _loader
    _loader = loader


def _workspace(ctx: typer.Context) -> Any:
    obj = ctx.obj
    while obj is None and ctx.parent is not None:
        ctx = ctx.parent
        obj = ctx.obj
    from federation.workspace import Workspace

    if isinstance(obj, Workspace):
        return obj
    if obj is not None and hasattr(obj, "workspace") and callable(obj.workspace):
        return obj.workspace()
    if callable(obj):
        return obj()
    if _loader is not None:
        return _loader()
    return Workspace.load()


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Inside ``cdp``, errors print as ``Error: ...`` with their exit code (cli.errors);
    used on its own, the sub-app raises them."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            from cli.errors import guarded
        except ImportError:
            return fn(*args, **kwargs)
        return guarded(fn)(*args, **kwargs)

    return wrapper


def _format(value: str) -> str:
    from federation.errors import UsageError

    if value not in ("table", "json"):
        raise UsageError(f"unknown --format '{value}'", hint="Use --format table or --format json.")
    return value


@model_app.command("show")
@_guarded
def show(
    ctx: typer.Context,
    entity: Optional[str] = typer.Argument(None, help="One entity (default: all)."),  # noqa: UP007
    fmt: str = typer.Option("table", "--format", help="table (a tree) or json."),
) -> None:
    """Fields (type, source of each), identity keys, lineage columns and relations."""
    from federation.errors import UsageError, did_you_mean
    from models.describe import entity_json, render_tree
    from models.validate import validate_model

    fmt = _format(fmt)
    ws = _workspace(ctx)
    entities, problems, types = validate_model(ws)
    if not entities and problems:
        from federation.errors import ConfigError

        raise ConfigError(problems)
    names = list(entities)
    if entity is not None:
        if entity not in entities:
            raise UsageError(f"no entity named '{entity}'",
                             hint=did_you_mean(entity, names) or f"Entities: {', '.join(names) or '(none)'}.")
        names = [entity]
    docs = [entity_json(entities[n], types.get(n, {})) for n in names]
    if fmt == "json":
        typer.echo(json.dumps(docs if entity is None else docs[0], indent=2))
        return
    from rich.console import Console

    console = Console()
    console.print(render_tree(docs))
    if problems:
        console.print(f"[yellow]{len(problems)} problem(s): run `cdp model validate`[/yellow]")


@model_app.command("validate")
@_guarded
def validate(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Check sources, tables, columns, types, relations; report every problem with file:line."""
    from federation.errors import ConfigError
    from models.validate import validate_model

    fmt = _format(fmt)
    entities, problems, _ = validate_model(_workspace(ctx))
    if fmt == "json":
        typer.echo(json.dumps({"ok": not problems, "entities": list(entities),
                               "problems": [{"location": str(p.location), "message": p.message, "hint": p.hint}
                                            for p in problems]}, indent=2))
        if problems:
            raise typer.Exit(1)
        return
    if problems:
        raise ConfigError(problems)
    typer.echo(f"model ok: {len(entities)} entities ({', '.join(entities)})")
