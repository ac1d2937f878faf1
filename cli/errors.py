"""How the CLI reports failures: ``Error: ...`` on stderr and the documented exit code.

    0 success; 1 a user's mistake (CdpError/UserError) or an internal error;
    2 usage; 3 a source failed (SourceError). 130 when interrupted.

No traceback unless --verbose. Every text printed here first goes through
``scrub``, which removes the workspace's secret values and the values of
secret-looking environment variables, so a driver message that echoes a token
or a password still never reaches the terminal.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from cli import state

F = TypeVar("F", bound=Callable[..., Any])
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|PRIVATE|CREDENTIAL|_URI$|_DSN$|_URL$", re.I)
MASK = "[secure]"


def secret_texts() -> list[str]:
    """Values never to print: the loaded workspace's secrets and secret-looking env vars."""
    out: set[str] = set()
    ws = state.current.loaded()
    if ws is not None:
        out |= set(ws.config.secret_values())
    for name, value in os.environ.items():
        # URLs are only secret when they carry a password (user:pass@host)
        if _SECRET_NAME.search(name) and len(value) >= 6:
            if name.upper().endswith(("_URI", "_DSN", "_URL")) and not re.search(r"://[^/@]*:[^/@]*@", value):
                continue
            out.add(value)
    return sorted((s for s in out if s), key=len, reverse=True)


def scrub(text: str) -> str:
    for secret in secret_texts():
        text = text.replace(secret, MASK)
    return text


def eprint(text: str) -> None:
    print(scrub(text), file=sys.stderr, flush=True)


def report(exc: BaseException, verbose: bool) -> int:
    """Print ``exc`` for a person and return the exit code it maps to."""
    from federation.errors import CdpError

    if verbose:
        import traceback

        eprint("".join(traceback.format_exception(exc)).rstrip())
    if isinstance(exc, CdpError):
        eprint(f"Error: {exc.render()}")
        return exc.exit_code
    eprint(f"internal error: {type(exc).__name__}: {exc}" + ("" if verbose else "; rerun with --verbose for the traceback"))
    return 1


def guarded(fn: F) -> F:
    """Run a command; turn every exception into a message and an exit code."""
    import typer

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            eprint("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # the reader went away (`cdp query ... | head`): not an error
            _silence_stdout()
            raise typer.Exit(0) from None
        except Exception as exc:  # every other failure becomes a message, never a raw traceback
            raise typer.Exit(report(exc, state.current.verbose)) from None
        finally:
            state.current.close()

    return wrapper  # type: ignore[return-value]


def _silence_stdout() -> None:
    # Python flushes stdout at exit and would report the broken pipe again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
