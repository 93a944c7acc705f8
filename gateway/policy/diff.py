"""What changed between two policy versions: by section and id (a rule added, removed, or changed in which
fields), and the files line by line. Pure: two ``Policy`` objects in, a ``PolicyDiff`` out."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from gateway.policy.loader import Policy

SECTIONS = ("rules", "data_classes", "destinations", "alternatives")
SETTINGS = ("policy", "limits", "redaction", "unknown_destination", "helpdesk")


@dataclass(frozen=True)
class Change:
    section: str  # rules, data_classes, destinations, alternatives, or a settings section
    id: str  # the item's id ("" for a settings section)
    what: str  # added | removed | changed
    fields: tuple[str, ...] = ()  # for "changed": the dotted fields that differ, with old → new when short


@dataclass(frozen=True)
class PolicyDiff:
    a: str  # digests
    b: str
    changes: tuple[Change, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # file name → unified diff (only files that differ)

    @property
    def same(self) -> bool:
        return not self.changes and not self.files

    def lines(self) -> list[str]:
        """The changes as text, for the command line and the console."""
        if self.same:
            return [f"{self.a} and {self.b} are the same policy"]
        out = []
        for change in self.changes:
            name = f"{change.section} {change.id}" if change.id else change.section
            sign = {"added": "+", "removed": "-", "changed": "~"}[change.what]
            out.append(f"{sign} {name}: {change.what}")
            out.extend(f"    {f}" for f in change.fields)
        return out

    def as_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "same": self.same,
                "changes": [{"section": c.section, "id": c.id, "what": c.what, "fields": list(c.fields)}
                            for c in self.changes],
                "files": self.files}


def diff(a: Policy, b: Policy) -> PolicyDiff:
    changes: list[Change] = []
    old, new = a.document.model_dump(mode="json"), b.document.model_dump(mode="json")
    for section in SECTIONS:
        before = {item["id"]: item for item in old[section]}
        after = {item["id"]: item for item in new[section]}
        for item_id in after.keys() - before.keys():
            changes.append(Change(section, item_id, "added", _summary(section, after[item_id])))
        for item_id in before.keys() - after.keys():
            changes.append(Change(section, item_id, "removed"))
        for item_id in before.keys() & after.keys():
            fields = _fields(before[item_id], after[item_id], "")
            if fields:
                changes.append(Change(section, item_id, "changed", tuple(fields)))
    for section in SETTINGS:
        fields = _fields(old[section], new[section], "")
        if fields:
            changes.append(Change(section, "", "changed", tuple(fields)))
    order = {s: i for i, s in enumerate((*SETTINGS, *SECTIONS))}
    changes.sort(key=lambda c: (order[c.section], c.id))
    files = {}
    for name in sorted(set(a.texts) | set(b.texts)):
        before_text, after_text = a.texts.get(name, ""), b.texts.get(name, "")
        if before_text != after_text:
            files[name] = "".join(difflib.unified_diff(
                before_text.splitlines(keepends=True), after_text.splitlines(keepends=True),
                fromfile=f"{a.digest}/{name}" if name in a.texts else "/dev/null",
                tofile=f"{b.digest}/{name}" if name in b.texts else "/dev/null"))
    return PolicyDiff(a.digest, b.digest, tuple(changes), files)


def _summary(section: str, item: dict[str, Any]) -> tuple[str, ...]:
    if section == "rules":
        when = item["when"]
        return (f"action: {item['action']}" + (" (monitor mode)" if item.get("mode") == "monitor" else ""),
                f"data classes: {', '.join(when['data_classes'])}")
    return ()


def _fields(before: Any, after: Any, path: str) -> list[str]:
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in [*before, *(k for k in after if k not in before)]:
            out.extend(_fields(before.get(key), after.get(key), f"{path}.{key}" if path else key))
        return out
    return [f"{path}: {_short(before)} → {_short(after)}"]


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"
