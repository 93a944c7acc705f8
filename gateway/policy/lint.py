"""What ``detour policy check`` says about a policy beyond its schema: broken references (errors) and
things that are allowed but almost certainly not meant (warnings).

Errors are found on the merged YAML as written, so they are reported together with the schema's
errors in one pass (an IT admin fixes everything at once, not in rounds). Warnings need a valid
policy: a rule that can never apply (no destination fits it, or a more severe rule stops every upload
it would — the most severe action wins), a text missing in a language the policy serves, an
alternative no decision can ever offer, or one approved only for data no rule stops.

``locate`` turns a location such as ``("rules", 2, "reason")`` into the file and line it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel

from alternatives.catalogue import ANY_DATA, Alternative, AlternativeKind, Localized
from detectors.entities import UNSCANNABLE
from gateway.errors import Problem
from gateway.policy.schema import LocalizedPlural, PolicyDocument, Rule
from gateway.records import Action

Location = tuple[int | str, ...]
Locate = Callable[[Location], tuple[str, int | None]]

LANGUAGE_NAMES = {"en": "English", "sv": "Swedish", "nl": "Dutch"}
SECTIONS = ("destinations", "data_classes", "rules", "alternatives")


def dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


class _Found:
    def __init__(self, locate: Locate) -> None:
        self.locate = locate
        self.problems: list[Problem] = []

    def __call__(self, loc: Location, message: str) -> None:
        file, line = self.locate(loc)
        self.problems.append(Problem(file, line, dotted(loc), message))

    def where(self, loc: Location) -> str:
        file, line = self.locate(loc)
        return f"{file}:{line}" if line else file


# --- errors: references between sections, on the merged YAML as written -----------------------------


def cross_check(merged: dict[str, Any], locate: Locate, detectors: set[str] | None) -> list[Problem]:
    """Ids must be unique (both places named) and every reference must name something defined.
    Tolerates any shape: what the schema rejects is the schema's to report."""
    found = _Found(locate)
    for section in SECTIONS:
        first: dict[str, int] = {}
        for index, item in _items(merged, section):
            item_id = item.get("id")
            if not isinstance(item_id, str):
                continue
            if item_id in first:
                earlier = (section, first[item_id], "id")
                found((section, index, "id"), f"id {item_id!r} is already used by {dotted(earlier[:2])} "
                                              f"({found.where(earlier)})")
            first.setdefault(item_id, index)

    data_classes = _ids(merged, "data_classes")
    unknown = _mapping(merged.get("unknown_destination")).get("id")
    unknown_id = unknown if isinstance(unknown, str) else "unknown_external"
    categories = _ids(merged, "destinations") | {unknown_id}
    alternatives = _ids(merged, "alternatives")
    for i, data_class in _items(merged, "data_classes"):
        for j, detector in _strings(data_class.get("detectors")):
            if detectors is not None and detector not in detectors:
                found(("data_classes", i, "detectors", j),
                      f"unknown detector {detector!r}; known: {', '.join(sorted(detectors))}")
    for i, rule in _items(merged, "rules"):
        when, unless = _mapping(rule.get("when")), _mapping(rule.get("unless"))
        for j, ref in _strings(when.get("data_classes")):
            if ref not in data_classes:
                found(("rules", i, "when", "data_classes", j), f"unknown data class {ref!r}")
        for part, condition in (("when", when), ("unless", unless)):
            for j, ref in _strings(condition.get("destinations")):
                if ref not in categories:
                    found(("rules", i, part, "destinations", j), f"unknown destination category {ref!r}")
        for j, ref in _strings(rule.get("alternatives")):
            if ref not in alternatives:
                found(("rules", i, "alternatives", j), f"unknown alternative {ref!r}")
    for j, ref in _strings(_mapping(merged.get("redaction")).get("data_classes")):
        if ref not in data_classes:
            found(("redaction", "data_classes", j), f"unknown data class {ref!r}")
    for i, alternative in _items(merged, "alternatives"):
        for j, ref in _strings(alternative.get("approved_for")):
            if ref != ANY_DATA and ref not in data_classes:
                found(("alternatives", i, "approved_for", j), f"unknown data class {ref!r}")
    return found.problems


def _items(merged: dict[str, Any], section: str) -> Iterator[tuple[int, dict[str, Any]]]:
    items = merged.get(section)
    for index, item in enumerate(items if isinstance(items, list) else ()):
        if isinstance(item, dict):
            yield index, item


def _ids(merged: dict[str, Any], section: str) -> set[str]:
    return {item["id"] for _, item in _items(merged, section) if isinstance(item.get("id"), str)}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> Iterator[tuple[int, str]]:
    for index, item in enumerate(value if isinstance(value, list) else ()):
        if isinstance(item, str):
            yield index, item


# --- warnings: a valid policy that does not do what its author meant ---------------------------------


def warnings(document: PolicyDocument, locate: Locate) -> list[Problem]:
    found = _Found(locate)
    _rules_that_never_apply(document, found)
    _missing_translations(document, found)
    _alternatives_never_offered(document, found)
    return found.problems


def _reach(rule: Rule, document: PolicyDocument) -> set[str]:
    """The destination categories ``rule`` can apply to."""
    when, unless = rule.when, rule.unless
    categories = [(c.id, c.sanctioned) for c in document.destinations]
    categories.append((document.unknown_destination.id, document.unknown_destination.sanctioned))
    return {category for category, sanctioned in categories
            if (when.sanctioned is None or sanctioned == when.sanctioned)
            and (not when.destinations or category in when.destinations)
            and not (unless is not None and category in unless.destinations)}


def _covers(wide: Rule, narrow: Rule) -> bool:
    """Whether ``wide``'s people conditions take in everyone ``narrow``'s do (its destinations and data classes
    do: the caller checked)."""
    for field in ("groups", "users"):
        needed, asked = set(getattr(wide.when, field)), set(getattr(narrow.when, field))
        if needed and not (asked and asked <= needed):
            return False
        spared = set(getattr(wide.unless, field)) if wide.unless is not None else set()
        if spared and not (asked and not asked & spared):
            return False
    return True


def _rules_that_never_apply(document: PolicyDocument, found: _Found) -> None:
    reach = [_reach(rule, document) for rule in document.rules]  # once per rule: the pairs below reuse them
    classes = [frozenset(rule.when.data_classes) for rule in document.rules]
    enforced = [(i, r) for i, r in enumerate(document.rules) if r.mode == "enforce"]
    for i, rule in enumerate(document.rules):
        if not reach[i]:
            found(("rules", i, "when"), f"rule {rule.id!r} can never apply: no destination category fits "
                                        "its conditions (sanctioned, destinations, unless)")
            continue
        if rule.mode != "enforce":
            continue
        for j, other in enforced:
            if other.action.severity > rule.action.severity and classes[i] <= classes[j] \
                    and reach[i] <= reach[j] and _covers(other, rule):
                found(("rules", i, "action"),
                      f"rule {rule.id!r} ({rule.action.value}) can never apply: rule {other.id!r} "
                      f"({other.action.value}, {found.where(('rules', j))}) stops every upload it would, "
                      "and the most severe action wins. Narrow that rule (unless:, destinations:, groups:), "
                      f"or give this one the more severe action")
                break


def _missing_translations(document: PolicyDocument, found: _Found) -> None:
    wanted = [language for language in document.policy.languages if language != "en"]
    for loc, value in _walk(document, ()):
        if isinstance(value, Localized | LocalizedPlural):
            missing = [language for language in wanted if getattr(value, language) is None]
        elif isinstance(value, Alternative):
            missing = [language for language in wanted if language not in value.texts]
            loc = (*loc, "texts")
        else:
            continue
        if missing:
            names = " and ".join(f"{LANGUAGE_NAMES[m]} ({m})" for m in missing)
            found(loc, f"no {names} text: staff reading it get English (languages served: "
                       f"policy.languages)")


def _walk(value: Any, loc: Location) -> Iterator[tuple[Location, Any]]:
    yield loc, value
    if isinstance(value, Localized | LocalizedPlural):
        return
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if isinstance(value, Alternative) and name == "texts":
                continue
            yield from _walk(getattr(value, name), (*loc, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, (*loc, index))


def _alternatives_never_offered(document: PolicyDocument, found: _Found) -> None:
    if document.policy.default_action is not Action.ALLOW:
        return  # an upload stopped by the default has no data class: every route is offered then
    stopping = [r for r in document.rules if r.mode == "enforce" and r.action is not Action.ALLOW]
    stopped = {c for r in stopping for c in r.when.data_classes}
    on_error = document.policy.on_error
    unchecked = {d.id for d in document.data_classes if UNSCANNABLE in d.detectors}
    failing = any(a is not Action.ALLOW for a in (on_error.sanctioned, on_error.unsanctioned))
    for i, alternative in enumerate(document.alternatives):
        if alternative.kind is AlternativeKind.REQUEST_REVIEW:
            continue
        approved = set(alternative.approved_for)
        if ANY_DATA not in approved and not approved & stopped:
            found(("alternatives", i, "approved_for"),
                  f"alternative {alternative.id!r} is approved only for data no rule stops "
                  f"({', '.join(sorted(approved))}): it is never offered")
            continue
        if _offered_by_some(alternative, stopping) or (failing and alternative.approves(unchecked)):
            continue
        found(("alternatives", i, "id"),
              f"alternative {alternative.id!r} is never offered: every rule that stops one of its data classes "
              "lists its own alternatives without it")
    by_id = {a.id: a for a in document.alternatives}
    for i, rule in enumerate(document.rules):
        for j, ref in enumerate(rule.alternatives):
            listed = by_id.get(ref)
            if listed is not None and not any(listed.approves({c}) for c in rule.when.data_classes):
                found(("rules", i, "alternatives", j),
                      f"rule {rule.id!r} lists {ref!r}, which is approved for none of its data classes: "
                      "it is never offered by this rule")


def _offered_by_some(alternative: Alternative, rules: Iterable[Rule]) -> bool:
    """Whether some stopping rule can offer it: the rule lists it, or lists none and stops data it fits."""
    return any(alternative.id in rule.alternatives if rule.alternatives
               else any(alternative.approves({c}) for c in rule.when.data_classes)
               for rule in rules)
