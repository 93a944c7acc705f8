"""Load the policy directory: YAML files → one validated ``Policy``, or a ``PolicyError``.

Every top-level ``*.yaml`` file in the directory is read (subfolders such as
``tests/`` and ``examples/`` are not). List sections (``destinations``,
``data_classes``, ``rules``, ``alternatives``) may be spread over several files;
map sections (``policy``, ``unknown_destination``, ``helpdesk``) live in exactly
one. Every error names the file, the line and the field, so IT can fix it fast.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from alternatives.catalogue import Catalogue
from gateway.errors import PolicyError, Problem
from gateway.policy import lint
from gateway.policy.destinations import DestinationMatcher
from gateway.policy.schema import PolicyDocument

LIST_SECTIONS = ("destinations", "data_classes", "rules", "alternatives")
MAX_NODES = 200_000  # YAML elements of one policy file, aliases expanded (the shipped policy has a few thousand)
MAP_SECTIONS = ("policy", "limits", "redaction", "unknown_destination", "helpdesk")

try:
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class Policy:
    """A loaded, validated, ready-to-use policy."""

    document: PolicyDocument
    catalogue: Catalogue
    destinations: DestinationMatcher
    directory: Path
    files: tuple[str, ...]
    digest: str  # changes whenever any policy file changes (e.g. for an ICAP ISTag)
    warnings: tuple[Problem, ...] = ()  # valid, but probably not what was meant (``lint.warnings``)
    texts: dict[str, str] = field(default_factory=dict, compare=False)  # file name → its text, as loaded


@dataclass(frozen=True)
class _Origin:
    file: str
    node: yaml.Node


class _Sources:
    """Remembers which file and YAML node each merged section (or list item) came from."""

    def __init__(self) -> None:
        self.lists: dict[str, list[_Origin]] = {}
        self.maps: dict[str, _Origin] = {}

    def locate(self, loc: Sequence[int | str]) -> tuple[str, int | None]:
        if not loc:
            return "", None
        section, rest = str(loc[0]), list(loc[1:])
        if section in self.lists and rest and isinstance(rest[0], int) and rest[0] < len(self.lists[section]):
            origin = self.lists[section][rest[0]]
            rest = rest[1:]
        elif self.lists.get(section):  # the list as a whole (too long, say): where it starts
            first = self.lists[section][0]
            return first.file, max(1, first.node.start_mark.line)
        elif section in self.maps:
            origin = self.maps[section]
        else:
            return "", None
        return origin.file, _walk(origin.node, rest)


def _walk(node: yaml.Node, path: Iterable[int | str]) -> int:
    """Follow ``path`` through YAML nodes as far as it goes; return that node's 1-based line."""
    line = node.start_mark.line + 1
    for step in path:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == step), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


def policy_files(directory: Path) -> list[Path]:
    """The files that make the policy of ``directory``, in the order they are read."""
    return sorted(p for p in directory.glob("*.yaml") if p.is_file()) + sorted(directory.glob("*.yml"))


def folder_digest(directory: Path | str) -> str | None:
    """The digest the policy of ``directory`` would have (``Policy.digest``), valid or not; None: no folder."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    digest = hashlib.sha256()
    for path in policy_files(directory):
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError:
            continue  # removed while being read: the next look sees the folder as it is
    return digest.hexdigest()[:16]


def load_policy(directory: Path | str, known_detectors: Iterable[str] | None = None) -> Policy:
    """Read and validate every policy file in ``directory``; raise ``PolicyError`` on any problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyError([Problem(str(directory), None, "", "policy directory not found")])
    paths = policy_files(directory)
    if not paths:
        raise PolicyError([Problem(str(directory), None, "", "no *.yaml policy files in this directory")])
    return parse_policy([(str(path), path.read_bytes()) for path in paths], directory, known_detectors)


def parse_policy(files: Sequence[tuple[str, bytes]], directory: Path,
                 known_detectors: Iterable[str] | None = None) -> Policy:
    """Validate policy files given as (path, content), in reading order: a folder's (``load_policy``), a stored
    version's, a draft uploaded to the console. Raises ``PolicyError`` naming every problem."""
    merged: dict[str, Any] = {}
    sources = _Sources()
    problems: list[Problem] = []
    digest = hashlib.sha256()
    for path, raw in files:
        digest.update(Path(path).name.encode() + b"\0" + raw + b"\0")
        problems.extend(_merge_file(path, raw, merged, sources))
    if problems:
        raise PolicyError(problems)
    # The schema's problems and the broken references together: every problem in one pass
    problems = lint.cross_check(merged, sources.locate, set(known_detectors) if known_detectors is not None else None)
    try:
        document = PolicyDocument.model_validate(merged)
    except ValidationError as exc:
        raise PolicyError(_sorted(_problems_from(exc, sources) + problems)) from exc
    if problems:
        raise PolicyError(problems)
    try:
        catalogue = Catalogue(alternatives=document.alternatives, helpdesk=document.helpdesk)
    except ValidationError as exc:
        file, line = sources.locate(("alternatives",))
        raise PolicyError([Problem(file, line, "alternatives", e["msg"]) for e in exc.errors()]) from exc
    return Policy(
        document=document,
        catalogue=catalogue,
        destinations=DestinationMatcher(document.destinations, document.unknown_destination),
        directory=directory,
        files=tuple(Path(path).name for path, _ in files),
        digest=digest.hexdigest()[:16],
        warnings=tuple(lint.warnings(document, sources.locate)),
        texts={Path(path).name: raw.decode("utf-8") for path, raw in files},
    )


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.line or 0))


def _merge_file(file: str, raw: bytes, merged: dict[str, Any], sources: _Sources) -> list[Problem]:
    try:
        text = raw.decode("utf-8")
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except UnicodeDecodeError:
        return [Problem(file, None, "", "the file is not UTF-8 text")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [Problem(file, mark.line + 1 if mark else None, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if data is None or node is None:
        return []
    size = _expanded_size(node, {}, set())
    if size == _TOO_DEEP:  # refused before it is validated
        return [Problem(file, 1, "", f"nested deeper than {MAX_DEPTH} levels, or an alias that contains itself")]
    if size > MAX_NODES:  # an alias bomb, or a file no one edits by hand
        return [Problem(file, 1, "", f"too large: more than {MAX_NODES:,} YAML elements once aliases are "
                                     "expanded")]
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        return [Problem(file, 1, "", "a policy file must be a mapping of sections (rules:, data_classes:, …)")]
    problems: list[Problem] = []
    for key_node, value_node in node.value:
        key, value = key_node.value, data.get(key_node.value)
        line = key_node.start_mark.line + 1
        if key in LIST_SECTIONS:
            if not isinstance(value, list):
                problems.append(Problem(file, line, key, "must be a list (each item starts with '- ')"))
                continue
            merged.setdefault(key, []).extend(value)
            sources.lists.setdefault(key, []).extend(_Origin(file, item) for item in value_node.value)
        elif key in MAP_SECTIONS:
            if value is None:  # a section whose entries are all commented out
                continue
            if key in sources.maps:
                problems.append(Problem(file, line, key, f"already defined in {sources.maps[key].file}"))
                continue
            merged[key] = value
            sources.maps[key] = _Origin(file, value_node)
        else:
            known = ", ".join(LIST_SECTIONS + MAP_SECTIONS)
            problems.append(Problem(file, line, key, f"unknown section; known sections: {known}"))
    return problems


_TOO_LARGE, _TOO_DEEP = MAX_NODES + 1, MAX_NODES + 2
MAX_DEPTH = 100  # nesting of YAML collections (the shipped policy: 6)


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """How many elements ``node`` stands for with every alias expanded, counted without expanding (an alias is the
    node it names: each node is counted once and its size reused). Walked with a stack of its own (no recursion):
    a recursive alias, or nesting deeper than ``MAX_DEPTH``, counts as too large."""
    stack: list[tuple[yaml.Node, int]] = [(node, 0)]
    while stack:
        current, state = stack.pop()
        key = id(current)
        if key in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(current, yaml.SequenceNode):
            children = list(current.value)
        elif isinstance(current, yaml.MappingNode):
            children = [part for pair in current.value for part in pair]
        if state == 0:  # first visit: its children first
            if key in open_ or len(open_) >= MAX_DEPTH:
                return _TOO_DEEP
            open_.add(key)
            stack.append((current, 1))
            stack.extend((child, 0) for child in children if id(child) not in sizes)
            continue
        open_.discard(key)  # second visit: every child is counted
        sizes[key] = min(_TOO_LARGE, 1 + sum(sizes[id(child)] for child in children))
    return sizes[id(node)]


def _problems_from(exc: ValidationError, sources: _Sources) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        file, line = sources.locate(loc)
        field = lint.dotted(loc)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif error["type"] == "missing" and not file:
            file = "(policy directory)"
        problems.append(Problem(file, line, field, message))
    return problems
