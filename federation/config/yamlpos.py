"""YAML with positions: plain Python values plus a key path -> Location map.

PyYAML's ``load`` forgets where things were and silently keeps the last of two
equal keys. We compose nodes instead (each has a ``start_mark``), build plain
values ourselves, record where every key and value sits, and report duplicate
keys, odd tags and syntax errors as problems in plain words.

Key paths join mapping keys with dots and list items with ``[i]``:
``sources.warehouse.tables[0]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from federation.errors import Location, Problem

MERGE_TAG = "tag:yaml.org,2002:merge"
# Aliases can expand a small file into billions of values ("billion laughs");
# stop long before that costs real time or memory.
MAX_VALUES = 100_000

# Hints for the parser's most common complaints, keyed by a fragment of its reason.
_SYNTAX_HINTS = {
    "cannot start any token": "YAML does not allow tabs or this character here; indent with spaces "
    "and quote values that start with a special character.",
    "mapping values are not allowed": "a value containing ': ' needs quotes, or the indentation is off.",
    "could not find expected ':'": "each key needs a colon and a space after it ('key: value').",
    "did not find expected key": "the indentation of this line does not match the lines above it.",
    "expected <block end>": "the indentation of this line does not match the lines above it.",
    "found undefined alias": "an alias (*name) must refer to an anchor (&name) defined earlier.",
    "unacceptable character": "remove the control character, or quote the value.",
    "found unexpected end of stream": "a quote or bracket is not closed.",
}


def child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class ParsedDoc:
    """One YAML document: its plain value and where each key and value starts."""

    value: Any
    keys: dict[str, Location] = field(default_factory=dict)
    values: dict[str, Location] = field(default_factory=dict)


class _TooBig(Exception):
    pass


class _Builder:
    def __init__(self, file: str, loader: yaml.SafeLoader, problems: list[Problem]) -> None:
        self.file = file
        self.loader = loader
        self.problems = problems
        self.doc = ParsedDoc(None)
        self._count = 0
        self._active: set[int] = set()

    def loc(self, node: Node, path: str) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1, path or None)

    def problem(self, node: Node, path: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.loc(node, path), message, hint))

    def build(self, node: Node, path: str) -> Any:
        self._count += 1
        if self._count > MAX_VALUES:
            raise _TooBig
        self.doc.values.setdefault(path, self.loc(node, path))
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self._active:
            self.problem(node, path, "this value contains itself (a recursive alias)",
                         "Remove the alias (*name) that points back to its own anchor.")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            if isinstance(node, SequenceNode):
                return [self.build(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            return None
        finally:
            self._active.discard(id(node))

    def scalar(self, node: ScalarNode, path: str) -> Any:
        if node.tag == MERGE_TAG:  # a bare '<<' used as a value is just text
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as e:
            self.problem(node, path, f"cannot read this value: {e.problem}",
                         "Quote the value to keep it as text.")
        except Exception as e:  # noqa: BLE001 - e.g. ValueError for '!!int abc' or a bad date
            self.problem(node, path, f"cannot read this value ({type(e).__name__})",
                         "Quote the value to keep it as text.")
        return None

    def key(self, node: Node, path: str) -> str | None:
        if isinstance(node, ScalarNode):
            # The key as written: 'on:' stays "on", not YAML 1.1's True.
            return str(node.value)
        self.problem(node, path, "a mapping key must be plain text, not a list or mapping",
                     "Write 'name: value' with a simple name.")
        return None

    def mapping(self, node: MappingNode, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        pairs = [(k, v) for k, v in node.value if k.tag != MERGE_TAG]
        for knode, vnode in node.value:  # merge keys ('<<: *base') first: explicit keys win
            if knode.tag == MERGE_TAG:
                for key, value in self.merged(vnode, path).items():
                    out.setdefault(key, value)
        for knode, vnode in pairs:
            key = self.key(knode, path)
            if key is None:
                continue
            kpath = child(path, key)
            if key in seen:
                first = seen[key].start_mark.line + 1
                self.problem(knode, kpath, f"key '{key}' appears twice in the same mapping (first at line {first})",
                             "YAML would silently keep only the last one; remove or rename one of them.")
                continue
            seen[key] = knode
            self.doc.keys[kpath] = self.loc(knode, kpath)
            out[key] = self.build(vnode, kpath)
        return out

    def merged(self, vnode: Node, path: str) -> dict[str, Any]:
        parts = vnode.value if isinstance(vnode, SequenceNode) else [vnode]
        out: dict[str, Any] = {}
        for part in parts:
            if not isinstance(part, MappingNode):
                self.problem(part, path, "'<<' must refer to a mapping (or a list of mappings)")
                continue
            value = self.build(part, path)
            for key, item in (value or {}).items():
                out.setdefault(key, item)  # the first merged mapping wins, as in YAML's merge spec
        return out


def _syntax_problem(e: yaml.YAMLError, text: str, file: str) -> Problem:
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        reason = e.problem or "invalid YAML"
        if e.context and e.context_mark is not None:
            reason += f" ({e.context} at line {e.context_mark.line + 1})"
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    elif isinstance(e, yaml.reader.ReaderError):
        pos = max(0, min(e.position, len(text)))
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        code = ord(e.character) if isinstance(e.character, str) else int(e.character)
        reason = f"unacceptable character #x{code:04x}: {e.reason}"
    else:
        line, col, reason = None, None, type(e).__name__
    hint = next((h for frag, h in _SYNTAX_HINTS.items() if frag in reason), None)
    return Problem(Location(file, line, col), f"YAML syntax error: {reason}", hint)


def parse_yaml(text: str, file: str) -> tuple[list[ParsedDoc], list[Problem]]:
    """Parse every document of one file. A syntax error drops the whole file
    (its half-read content would only cause confusing follow-up problems)."""
    problems: list[Problem] = []
    try:
        # The reader rejects control characters as soon as it is built.
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as e:
        return [], [_syntax_problem(e, text, file)]
    try:
        nodes: list[Node] = []
        while loader.check_node():
            nodes.append(loader.get_node())
        docs: list[ParsedDoc] = []
        for node in nodes:
            builder = _Builder(file, loader, problems)
            try:
                builder.doc.value = builder.build(node, "")
            except _TooBig:
                problems.append(Problem(Location(file, node.start_mark.line + 1, 1),
                                        f"this document expands to more than {MAX_VALUES} values through aliases",
                                        "Use fewer nested aliases (*name)."))
                continue
            docs.append(builder.doc)
        return docs, problems
    except yaml.YAMLError as e:
        return [], [*problems, _syntax_problem(e, text, file)]
    except RecursionError:
        return [], [*problems, Problem(Location(file), "the YAML is nested too deeply to read",
                                       "Flatten the nesting of lists and mappings.")]
    finally:
        loader.dispose()
