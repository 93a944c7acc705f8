"""Render an ``Inspection`` for people and programs: the decision JSON (``Report``), in one language.

This is the one shape every channel returns (CLI ``--format json``, ``POST
/v1/inspect``, the proxies' block pages, the decision page): decision, reasons
in plain words, findings as counts and masked examples, ranked routes and the
helpdesk message. It is rendered from the language-neutral records only
(``Upload``, ``Evidence``, ``Decision``), so a stored decision can be rendered
again in any language. A decision by the policy's ``on_error`` (a timeout, an
internal error, no capacity) is worded by Detour's own translated texts.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field

from alternatives.catalogue import Language, Offer, RouteContext, render_offer
from alternatives.helpdesk import HelpdeskMessage, compose, join_phrases, mail_link, message_values
from gateway.policy.engine import EXEMPTION_RULE
from gateway.policy.loader import Policy
from gateway.records import Action, DataClassHit, Decision, DetectorSummary, Inspection, Upload
from gateway.render.i18n import N_, translator
from gateway.render.labels import label, shown

FAILURE_REASONS = {
    "timeout": N_("Detour could not finish checking this file in time."),
    "error": N_("Detour could not finish checking this file."),
    "busy": N_("Detour was too busy to check this file just now."),
}
FAILURE_MESSAGES = {
    Action.BLOCK: N_("Sorry — %(file)s was stopped because Detour could not finish checking it, and files that "
                     "can't be checked may not go to %(destination)s. Please try again in a moment, or use one of "
                     "the routes offered. Your reference is %(reference)s."),
    Action.WARN: N_("Detour could not finish checking %(file)s. Please make sure it may go to %(destination)s "
                    "before you send it. Your reference is %(reference)s."),
    Action.ALLOW: N_("Detour could not finish checking %(file)s; the policy lets it through to %(destination)s. "
                     "Your reference is %(reference)s."),
}


class DestinationOut(BaseModel):
    url: str = Field(description="The destination without query string or fragment")
    host: str
    category: str
    category_title: str
    sanctioned: bool


class ReasonOut(BaseModel):
    rule: str
    action: Action
    data_classes: list[str]
    message: str


class LocationOut(BaseModel):
    origin: str
    record: int = Field(description="Line (text) or row (tables, JSON records), 1-based; 0 = whole file")
    column: int = Field(default=0, description="Column in tables, 1-based (row + column = the cell); 0 elsewhere")


class FindingOut(BaseModel):
    type: str = Field(description="The detector (for programs): EMAIL_ADDRESS, SLACK_TOKEN…")
    label: str = Field(default="", description="What was found, for people, in the answer's language")
    count: int
    distinct: int
    examples: list[str] = Field(description="Masked examples; never a raw value")
    locations: list[LocationOut]


class DataClassOut(BaseModel):
    id: str
    title: str
    description: str
    count: int
    distinct: int
    people: int
    threshold_reached: bool


class FileTypeOut(BaseModel):
    mime: str


class ScanOut(BaseModel):
    parts: int
    characters: int
    partial: bool = Field(default=False, description="The scan stopped early, or read the rest only for "
                                                      "what could still change the decision, once the decision was "
                                                      "certain; findings are what was seen until then")
    skipped_by_policy: bool = Field(default=False, description="The content was not read: no rule of the policy "
                                                                "could act on this upload (its type, size and "
                                                                "SHA-256 are recorded)")


class PolicyOut(BaseModel):
    name: str
    version: str
    digest: str


class Report(BaseModel):
    """The decision JSON: the same for the CLI, the HTTP API and the proxies."""

    file: str
    decision: Action
    decision_id: str
    language: Language
    destination: DestinationOut
    user: str | None = None
    group: str | None = None
    size: int
    sha256: str
    file_type: FileTypeOut
    reasons: list[ReasonOut]
    findings: list[FindingOut]
    data_classes: list[DataClassOut]
    alternatives: list[Offer]
    helpdesk: HelpdeskMessage
    scan: ScanOut
    policy: PolicyOut
    justified_by: str | None = Field(default=None, description="A warning let through: the reference of the "
                                     "decision where the person gave a business justification for this file")


def display_name(file_name: str) -> str:
    """The file's own name, without any folder a client sent along (POSIX or Windows)."""
    return file_name.replace("\\", "/").rstrip("/").rpartition("/")[2] or file_name


def without_query(url: str) -> str:
    """Drop the query and fragment: upload URLs often carry signatures or tokens."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def render(inspection: Inspection, policy: Policy, language: Language) -> Report:
    decision, upload, evidence = inspection.decision, inspection.upload, inspection.evidence
    document = policy.document
    destination = decision.destination
    category = document.category(destination.category)
    category_title = category.title.get(language) if category is not None else destination.category
    shown_destination = destination.host or without_query(destination.url) or "?"
    phrases = {hit.id: _describe(hit, policy, language) for hit in decision.data_classes}
    _ = translator(language)

    reasons = []
    for reason in decision.reasons:
        if inspection.failure is not None:
            message = _(FAILURE_REASONS[inspection.failure])
        elif decision.exemption is not None and reason.rule == EXEMPTION_RULE.format(decision.exemption.id):
            message = _("IT granted an exception for this until %(date)s.") % {
                "date": decision.exemption.expires.date().isoformat()}
        else:
            rule = next(r for r in document.rules if r.id == reason.rule)
            found = join_phrases([phrases[c] for c in reason.data_classes], language)
            message = rule.reason.get(language).format_map(
                {"found": found, "destination": shown_destination, "category": category_title}
            )
        reasons.append(ReasonOut(rule=reason.rule, action=reason.action, data_classes=list(reason.data_classes),
                                 message=message))

    context = RouteContext(
        decision_id=decision.id,
        file_name=display_name(upload.file_name),
        destination_host=destination.host,
        user=upload.user or "",
        group=upload.group or "",
    )
    offers = []
    for rank, alternative_id in enumerate(decision.alternatives, start=1):
        alternative = policy.catalogue.get(alternative_id)
        if alternative is not None:
            offers.append(render_offer(alternative, rank, language, context))

    reason_classes = list(dict.fromkeys(c for r in decision.reasons for c in r.data_classes))
    if inspection.failure is not None:
        helpdesk = _failure_helpdesk(decision, upload, policy, language, shown_destination)
    else:
        helpdesk = _helpdesk(decision, upload, policy, language, shown_destination,
                             [phrases[c] for c in reason_classes], offers)
    return Report(
        file=upload.file_name,
        decision=decision.action,
        decision_id=decision.id,
        language=language,
        destination=DestinationOut(
            url=without_query(destination.url),
            host=destination.host,
            category=destination.category,
            category_title=category_title,
            sanctioned=destination.sanctioned,
        ),
        user=upload.user,
        group=upload.group,
        size=upload.size,
        sha256=upload.sha256,
        file_type=FileTypeOut(mime=evidence.mime_type),
        reasons=reasons,
        findings=[_finding_out(summary, _) for summary in evidence.detectors],
        data_classes=[_data_class_out(hit, policy, language, phrases[hit.id]) for hit in decision.data_classes],
        alternatives=offers,
        helpdesk=helpdesk,
        scan=ScanOut(parts=evidence.parts, characters=evidence.characters, partial=evidence.partial,
                     skipped_by_policy=evidence.skipped),
        policy=PolicyOut(name=document.policy.name, version=document.policy.version, digest=inspection.policy_digest),
    )


def _finding_out(summary: DetectorSummary, _: Callable[[str], str]) -> FindingOut:
    return FindingOut(type=summary.entity, label=label(summary.entity, _), count=summary.count,
                      distinct=summary.distinct, examples=[shown(example, _) for example in summary.examples],
                      locations=[LocationOut(origin=p.origin, record=p.record, column=p.column)
                                 for p in summary.places])


def _failure_helpdesk(decision: Decision, upload: Upload, policy: Policy, language: Language,
                      destination: str) -> HelpdeskMessage:
    """The message of a decision by on_error: Detour's own words, the reference and the helpdesk."""
    _ = translator(language)
    helpdesk = policy.catalogue.helpdesk
    values = message_values(helpdesk, file_name=display_name(upload.file_name), destination=destination,
                            reference=decision.id)
    message = _(FAILURE_MESSAGES[decision.action]) % values
    return HelpdeskMessage(message=message, reference=decision.id, contact=helpdesk.contact.details(language),
                           mailto=mail_link(helpdesk, language, values, message))


def _describe(hit: DataClassHit, policy: Policy, language: Language) -> str:
    data_class = policy.document.data_class(hit.id)
    if data_class is None:  # pragma: no cover - decide only reports known classes
        return hit.id
    n = hit.people if data_class.min_people else hit.distinct
    return data_class.found.get(language, n).format_map(
        {"count": hit.count, "distinct": hit.distinct, "people": hit.people}
    )


def _data_class_out(hit: DataClassHit, policy: Policy, language: Language, description: str) -> DataClassOut:
    data_class = policy.document.data_class(hit.id)
    return DataClassOut(
        id=hit.id,
        title=data_class.title.get(language) if data_class else hit.id,
        description=description,
        count=hit.count,
        distinct=hit.distinct,
        people=hit.people,
        threshold_reached=hit.triggered,
    )


def _helpdesk(
    decision: Decision,
    upload: Upload,
    policy: Policy,
    language: Language,
    destination: str,
    found: list[str],
    offers: list[Offer],
) -> HelpdeskMessage:
    if decision.action is Action.ALLOW:
        details = policy.catalogue.helpdesk.contact.details(language)
        _ = translator(language)
        allowed = _("Allowed: nothing here is restricted for this destination.")
        return HelpdeskMessage(
            message=f"{allowed} " + _("Reference") + f": {decision.id}.",
            reference=decision.id,
            contact=details,
        )
    return compose(
        policy.catalogue.helpdesk,
        language,
        blocked=decision.action is Action.BLOCK,
        file_name=display_name(upload.file_name),
        destination=destination,
        found=found,
        offers=offers,
        reference=decision.id,
    )


