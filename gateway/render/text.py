"""The decision for people on a terminal (``detour scan``): the decision, why, what was found, what to do.

Several files: each route's steps are printed once (the first time it is offered), and a summary ends the
output; ``--brief`` prints one line per file, then the summary.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from alternatives.catalogue import Language
from gateway.records import Action
from gateway.render.i18n import N_, translations, translator
from gateway.render.report import Report

DECISION_LABELS = {"allow": N_("ALLOWED"), "warn": N_("WARNING"), "block": N_("BLOCKED")}
WIDTH = 100


@dataclass
class Printed:
    """What earlier answers of the same run already showed: a route's steps are printed once."""

    routes: dict[str, str] = field(default_factory=dict)  # route id -> the file it was first shown for


def format_text(report: Report, printed: Printed | None = None) -> str:
    """The answer for people: decision, why, what to do instead."""
    _ = translator(report.language)
    reference, why, found, instead = _("Reference"), _("Why"), _("Found"), _("What you can do instead")
    destination = report.destination
    lines = [f"{report.file}: {_(DECISION_LABELS[report.decision.value])}   {reference}: {report.decision_id}",
             "  " + _("Destination") + f": {destination.host or destination.url} ({destination.category_title})"]
    if report.reasons:
        lines.append(f"  {why}:")
        lines.extend(_wrap(f"- {reason.message}", "    ", "      ") for reason in report.reasons)
    if report.data_classes:
        lines.append(f"  {found}:")
        for data_class in report.data_classes:
            lines.append(_wrap(f"- {data_class.description}", "    ", "      "))
        for finding in report.findings:
            lines.append(_wrap(f"{finding.label or finding.type}: {', '.join(finding.examples)}", "      ",
                               "        "))
    elif report.scan.skipped_by_policy:
        lines.append(_wrap(_("Not read: the policy lets anything go to this destination."), "  ", "  "))
    elif report.decision is Action.ALLOW:
        lines.append("  " + _("Nothing sensitive was found for this destination."))
    if report.scan.partial:
        lines.append(_wrap(_("Detour stopped checking once this was clear; the file may contain more."), "  ", "  "))
    if report.alternatives:
        lines.append(f"  {instead}:")
        for offer in report.alternatives:
            lines.append(f"    {offer.rank}. {offer.title} — {offer.url}")
            first = printed.routes.get(offer.id) if printed is not None else None
            if first is not None:
                lines.append(_wrap(_("(the steps are above, under {file})").format(file=first), "       ", "       "))
                continue
            lines.extend(_wrap(f"{step}", "       · ", "         ") for step in offer.instructions)
            if printed is not None:
                printed.routes[offer.id] = report.file
    if report.decision is not Action.ALLOW:
        lines.append("  " + _("Message from the helpdesk") + ":")
        lines.append(_wrap(report.helpdesk.message, "    ", "    "))
    return "\n".join(lines) + "\n"


def format_brief(report: Report) -> str:
    """One line: the decision, the file, what decided it, the reference."""
    _ = translator(report.language)
    what = "; ".join(d.description for d in report.data_classes if d.threshold_reached) or (
        _("nothing sensitive for this destination") if report.decision is Action.ALLOW else
        "; ".join(r.rule for r in report.reasons))
    return f"{_(DECISION_LABELS[report.decision.value]):<9} {report.file}  {what}  ({report.decision_id})"


def format_summary(reports: Sequence[Report], language: Language) -> str:
    """How several files fared: counts by decision, and the files that can't go as they are."""
    _ = translator(language)
    ngettext = translations(language).ngettext
    counts = Counter(r.decision.value for r in reports)
    head = ngettext("{n} file", "{n} files", len(reports)).format(n=len(reports))
    parts = [ngettext("{n} blocked", "{n} blocked", counts["block"]).format(n=counts["block"]),
             ngettext("{n} warning", "{n} warnings", counts["warn"]).format(n=counts["warn"]),
             ngettext("{n} allowed", "{n} allowed", counts["allow"]).format(n=counts["allow"])]
    lines = [f"{head}: " + ", ".join(parts)]
    for action, title in ((Action.BLOCK, _("Blocked")), (Action.WARN, _("Need a business reason"))):
        stopped = [r for r in reports if r.decision is action]
        if stopped:
            lines.append(f"{title}:")
            lines.extend(f"  {r.file} ({r.decision_id})" for r in stopped)
    return "\n".join(lines) + "\n"


def _wrap(text: str, first: str, rest: str) -> str:
    return textwrap.fill(text, width=WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False)
