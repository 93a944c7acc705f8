"""The decision for people on a terminal (``detour scan``): the decision, why, what was found, what to do."""

from __future__ import annotations

import textwrap

from gateway.records import Action
from gateway.render.i18n import N_, translator
from gateway.render.report import Report

DECISION_LABELS = {"allow": N_("ALLOWED"), "warn": N_("WARNING"), "block": N_("BLOCKED")}


def format_text(report: Report) -> str:
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
        examples = {f.type: f.examples for f in report.findings}
        for data_class in report.data_classes:
            lines.append(_wrap(f"- {data_class.description}", "    ", "      "))
        for finding_type, shown in examples.items():
            lines.append(_wrap(f"{finding_type}: {', '.join(shown)}", "      ", "        "))
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
            lines.extend(_wrap(f"{step}", "       · ", "         ") for step in offer.instructions)
    if report.decision is not Action.ALLOW:
        lines.append("  " + _("Message from the helpdesk") + ":")
        lines.append(_wrap(report.helpdesk.message, "    ", "    "))
    return "\n".join(lines) + "\n"


def _wrap(text: str, first: str, rest: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False)
