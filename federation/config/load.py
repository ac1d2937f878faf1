"""Find and load a workspace: a folder of YAML.

Files read, in this order: every ``*.yaml`` / ``*.yml`` directly in the folder
(sorted by name), then those under ``sources/``, ``entities/``, ``segments/``,
``audiences/`` (sorted; nested folders too). Every file has the same shape: a
mapping of sections (``sources``, ``entities``, ``segments``, ``audiences``,
``engine``, ``settings``), each a mapping name -> definition. A section may be
split across files; a name defined twice is an error naming both places.
``segments/**/*.sql`` files are segments named after the file.

Every problem in every file is collected before one ConfigError is raised.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federation.config.interpolate import interpolate_tree
from federation.config.model import SourceConfig, WorkspaceConfig
from federation.config.validate import check_source
from federation.config.yamlpos import ParsedDoc, child, parse_yaml
from federation.errors import ConfigError, Location, Problem, UserError, did_you_mean

SECTIONS = ("sources", "entities", "segments", "audiences", "engine", "settings")
SUBFOLDERS = ("sources", "entities", "segments", "audiences")
_SINGULAR = {"sources": "source", "entities": "entity", "segments": "segment", "audiences": "audience",
             "engine": "engine setting", "settings": "setting"}
_SECTION_HELP = f"Sections are: {', '.join(SECTIONS)}."


def resolve_workspace_dir(explicit: str | Path | None, *, env: Mapping[str, str] | None = None,
                          cwd: Path | None = None) -> Path:
    """``--workspace DIR``, else ``$CDP_WORKSPACE``, else ``./configs``.

    A folder that is not there is a UserError listing every place looked, in order."""
    env = os.environ if env is None else env
    base = Path.cwd() if cwd is None else Path(cwd)
    looked: list[str] = []
    if explicit is not None and str(explicit) != "":
        candidate, origin = Path(explicit).expanduser(), "--workspace"
    else:
        looked.append("--workspace (not given)")
        from_env = env.get("CDP_WORKSPACE")
        if from_env:
            candidate, origin = Path(from_env).expanduser(), "$CDP_WORKSPACE"
        else:
            looked.append("$CDP_WORKSPACE (not set)")
            candidate, origin = Path("configs"), "./configs"
    full = candidate if candidate.is_absolute() else base / candidate
    if full.is_dir():
        return candidate if cwd is None else full
    state = "not a folder" if full.exists() else "not found"
    looked.append(f"{origin} = {candidate} ({state})")
    raise UserError("no workspace folder found", detail="  looked in: " + "; ".join(looked),
                    hint="Pass --workspace DIR, set CDP_WORKSPACE, or create ./configs with your sources YAML.")


def workspace_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(YAML files, segment .sql files) of a workspace, in reading order."""
    def visible(p: Path) -> bool:
        return p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)

    def below(folder: Path) -> list[Path]:
        # os.walk does not follow symlinked folders, so a link loop cannot hang us
        return sorted(Path(d) / f for d, _, names in os.walk(folder) for f in names)

    yamls = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and visible(p))
    sqls: list[Path] = []
    for sub in SUBFOLDERS:
        folder = root / sub
        if folder.is_dir():
            found = [p for p in below(folder) if visible(p)]
            yamls += [p for p in found if p.suffix in (".yaml", ".yml")]
            if sub == "segments":
                sqls += [p for p in found if p.suffix == ".sql"]
    return yamls, sqls


@dataclass
class _Merged:
    """Sections gathered from every file, with where each key and value is."""

    entries: dict[str, dict[str, Any]] = field(default_factory=lambda: {s: {} for s in SECTIONS})
    keys: dict[str, Location] = field(default_factory=dict)
    values: dict[str, Location] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def key_loc(self, path: str) -> Location:
        return self.keys.get(path) or self.values.get(path) or Location("?", key_path=path)

    def value_loc(self, path: str) -> Location:
        return self.values.get(path) or self.keys.get(path) or Location("?", key_path=path)

    def add_doc(self, doc: ParsedDoc, file: str) -> None:
        if doc.value is None:
            return
        if not isinstance(doc.value, dict):
            self.problems.append(Problem(doc.values.get("") or Location(file, 1, 1),
                                         "a workspace file must be a mapping of sections", _SECTION_HELP))
            return
        rejected: list[str] = []
        for section, body in doc.value.items():
            here = doc.keys.get(section) or Location(file, key_path=section)
            if section not in SECTIONS:
                self.problems.append(Problem(here, f"unknown section '{section}'",
                                             did_you_mean(section, SECTIONS) or _SECTION_HELP))
                rejected.append(section)
                continue
            if body is None:
                continue
            if not isinstance(body, dict):
                self.problems.append(Problem(doc.values.get(section, here),
                                             f"section '{section}' must be a mapping of name -> definition"))
                rejected.append(section)
                continue
            for name, value in body.items():
                path = child(section, name)
                if name in self.entries[section]:
                    rejected.append(path)
                    self._duplicate(section, name, doc.keys.get(path) or Location(file, key_path=path))
                    continue
                self.entries[section][name] = value
        self._copy_locations(doc, rejected)

    def _duplicate(self, section: str, name: str, second: Location) -> None:
        first = self.key_loc(child(section, name))
        self.problems.append(Problem(second, f"{_SINGULAR[section]} '{name}' is defined twice: at "
                                     f"{first.file}:{first.line} and {second.file}:{second.line}",
                                     "Rename or remove one of them."))

    def _copy_locations(self, doc: ParsedDoc, rejected: list[str]) -> None:
        def keep(path: str) -> bool:
            return not any(path == r or path.startswith((r + ".", r + "[")) for r in rejected)

        for src, dst in ((doc.keys, self.keys), (doc.values, self.values)):
            for path, loc in src.items():
                if path and keep(path):
                    dst.setdefault(path, loc)


def _display(root: Path, path: Path) -> str:
    """A file's name in messages: relative to the workspace's parent (``configs/x.yaml``),
    or under the root exactly as given when that was relative."""
    rel = path.relative_to(root)
    base = root if not root.is_absolute() else Path(root.name)
    return (base / rel).as_posix()


def _read(root: Path, path: Path, merged: _Merged) -> None:
    file = _display(root, path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        merged.problems.append(Problem(Location(file), f"the file is not UTF-8 text (byte {e.start})",
                                       "Save it as UTF-8."))
        return
    except OSError as e:
        merged.problems.append(Problem(Location(file), f"cannot read the file: {e.strerror or e}"))
        return
    docs, problems = parse_yaml(text, file)
    merged.problems += problems
    for doc in docs:
        merged.add_doc(doc, file)


def _add_sql_segments(root: Path, sqls: list[Path], merged: _Merged) -> None:
    for path in sqls:
        name, file = path.stem, _display(root, path)
        key = child("segments", name)
        here = Location(file, 1, 1, key)
        if name in merged.entries["segments"]:
            merged._duplicate("segments", name, here)
            continue
        merged.entries["segments"][name] = {"sql_file": str(path.resolve())}
        merged.keys[key] = merged.values[key] = here


def _scrub(problems: list[Problem], secrets: set[str]) -> list[Problem]:
    ordered = sorted((s for s in secrets if s), key=len, reverse=True)

    def clean(text: str | None) -> str | None:
        if text is None:
            return None
        for s in ordered:
            text = text.replace(s, "[secure]")
        return text

    return [Problem(p.location, clean(p.message) or "", clean(p.hint)) for p in problems]


def _locations(merged: _Merged) -> dict[str, Location]:
    """Every key's location, plus list items (``...merge[0]``), which have no key."""
    out = {p: loc for p, loc in merged.values.items() if p.endswith("]")}
    out.update(merged.keys)
    return out


def load_workspace(root: Path, env: Mapping[str, str] | None = None) -> WorkspaceConfig:
    """Read, interpolate and validate the workspace at ``root``.

    Raises ConfigError listing every problem found, each with file:line:col and key path."""
    env = os.environ if env is None else env
    root = Path(root)
    if not root.is_dir():
        raise ConfigError([Problem(Location(str(root)), "the workspace folder does not exist",
                                   "Pass --workspace DIR or set CDP_WORKSPACE.")])
    merged = _Merged()
    yamls, sqls = workspace_files(root)
    for path in yamls:
        _read(root, path, merged)
    _add_sql_segments(root, sqls, merged)

    problems = merged.problems
    scrub: set[str] = set()
    sources: dict[str, SourceConfig] = {}
    for name, entry in merged.entries["sources"].items():
        check = check_source(name, entry, env, merged.value_loc, merged.key_loc)
        problems += check.problems
        scrub |= check.scrub
        if check.config is not None:
            sources[name] = check.config
    sections: dict[str, dict[str, Any]] = {}
    for section in SECTIONS[1:]:
        result = interpolate_tree(merged.entries[section], section, env, merged.value_loc)
        problems += result.problems
        scrub |= {v for v in result.env_values if len(v) >= 4}
        sections[section] = result.value
    if problems:
        problems = _scrub(problems, scrub)
        problems.sort(key=lambda p: (p.location.file, p.location.line or 0, p.location.col or 0))
        raise ConfigError(problems)
    return WorkspaceConfig(root=root.resolve(), sources=sources, sections=sections,
                           locations=_locations(merged), files=tuple(yamls + sqls),
                           value_locations=dict(merged.values))
