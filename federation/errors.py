"""The one error tree of fedcdp.

Every error a user can meet is a ``CdpError``; each class carries the CLI exit
code it maps to and whether retrying can help::

    CdpError                      exit 1
    ├── UserError                 exit 1   a user's mistake
    │   ├── ConfigError           exit 1   bad workspace YAML (carries every problem found)
    │   ├── QueryError            exit 1   bad SQL: syntax, unknown table/column, types
    │   │   └── UnsupportedError  exit 1   valid SQL that fedcdp cannot run ("unsupported: ...")
    │   └── NotReadOnlyError      exit 1   DDL, DML, several statements
    ├── UsageError                exit 2   bad command-line usage
    └── SourceError               exit 3   a source failed (unreachable, auth, rate-limited)
        └── RateLimitedError      exit 3   retry budget spent on 429s

Messages say what, where, why and how to fix it. They never contain a secret's
value, a response body, or a query string that may carry customer data.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Location:
    """Where in the workspace a problem is: file, 1-based line and column, key path."""

    file: str
    line: int | None = None
    col: int | None = None
    key_path: str | None = None

    def __str__(self) -> str:
        out = self.file
        if self.line is not None:
            out += f":{self.line}"
            if self.col is not None:
                out += f":{self.col}"
        if self.key_path:
            out += f" ({self.key_path})"
        return out


class CdpError(Exception):
    """Base of every fedcdp error."""

    exit_code: int = 1
    retriable: bool = False

    def __init__(self, message: str, *, hint: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail

    def render(self) -> str:
        """The one-paragraph text the CLI prints after ``Error: ``."""
        parts = [self.message]
        if self.detail:
            parts.append(self.detail)
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()


class UserError(CdpError):
    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One configuration problem; ConfigError carries all of them."""

    location: Location
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.hint:
            text += f"\n    {self.hint}"
        return text


class ConfigError(UserError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        head = f"the workspace has {n} problem{'s' if n != 1 else ''}:"
        super().__init__(head, detail="\n".join(f"  - {p}" for p in self.problems))


class QueryError(UserError):
    """Bad SQL. ``position`` is (line, col), 1-based, in ``sql``."""

    def __init__(
        self,
        message: str,
        *,
        sql: str | None = None,
        position: tuple[int, int] | None = None,
        length: int = 1,
        hint: str | None = None,
    ) -> None:
        self.sql = sql
        self.position = position
        detail = None
        if sql is not None and position is not None:
            line, col = position
            lines = sql.splitlines() or [""]
            text = lines[min(line, len(lines)) - 1]
            detail = f"  query, line {line}, col {col}:\n    {text}\n    {' ' * (col - 1)}{'^' * max(length, 1)}"
        super().__init__(message, hint=hint, detail=detail)


class UnsupportedError(QueryError):
    def __init__(self, what: str, **kw: object) -> None:
        super().__init__(f"unsupported: {what}", **kw)  # type: ignore[arg-type]


class NotReadOnlyError(UserError):
    pass


class UsageError(CdpError):
    exit_code = 2


class SourceError(CdpError):
    """A source failed. Always names the source (and the request when known)."""

    exit_code = 3

    def __init__(self, source: str, message: str, *, retriable: bool = False, **kw: object) -> None:
        self.source = source
        self.retriable = retriable
        super().__init__(f"source '{source}': {message}", **kw)  # type: ignore[arg-type]


class RateLimitedError(SourceError):
    retriable = True


def did_you_mean(name: str, candidates: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """A 'Did you mean ...?' suggestion drawn only from names the user can see."""
    import difflib

    found = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
    if not found:
        return None
    original = {c.lower(): c for c in candidates}[found[0]]
    return f"Did you mean '{original}'?"
