"""Render a ``Decision`` for people and programs: the decision JSON, in the uploader's language.

This is the one shape every adapter returns (CLI ``--format json``, ``POST
/v1/inspect``, later the ICAP block page): decision, reasons in plain words,
findings as counts and masked examples, ranked routes and the helpdesk message.
"""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field

from alternatives.catalogue import Language, Offer, RouteContext, render_offer
from alternatives.helpdesk import HelpdeskMessage, compose, join_phrases
from detectors.findings import Finding, ScanResult
from gateway.i18n import translator
from gateway.model import DataClassHit, Decision, Upload
from gateway.policy.loader import Policy
from gateway.policy.schema import Action

MAX_EXAMPLES = 3
MAX_LOCATIONS = 5


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
    type: str
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
    partial: bool = Field(default=False, description="The scan stopped early once the block was certain; "
                                                      "findings are what was seen until then")


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


def render(
    decision: Decision, upload: Upload, scan: ScanResult, policy: Policy, language: Language
) -> Report:
    document = policy.document
    destination = decision.destination
    category = document.category(destination.category)
    category_title = category.title.get(language) if category is not None else destination.category
    shown_destination = destination.host or without_query(destination.url) or "?"
    phrases = {hit.id: _describe(hit, policy, language) for hit in decision.data_classes}

    reasons = []
    for reason in decision.reasons:
        rule = next(r for r in document.rules if r.id == reason.rule)
        found = join_phrases([phrases[c] for c in reason.data_classes], language)
        message = rule.reason.get(language).format_map(
            {"found": found, "destination": shown_destination, "category": category_title}
        )
        reasons.append(ReasonOut(rule=rule.id, action=reason.action, data_classes=list(reason.data_classes),
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
        file_type=FileTypeOut(mime=scan.mime_type),
        reasons=reasons,
        findings=summarise(scan.findings),
        data_classes=[_data_class_out(hit, policy, language, phrases[hit.id]) for hit in decision.data_classes],
        alternatives=offers,
        helpdesk=_helpdesk(decision, upload, policy, language, shown_destination,
                           [phrases[c] for c in reason_classes], offers),
        scan=ScanOut(parts=scan.parts, characters=scan.scanned_chars, partial=scan.partial),
        policy=PolicyOut(name=document.policy.name, version=document.policy.version, digest=policy.digest),
    )


def summarise(findings: tuple[Finding, ...]) -> list[FindingOut]:
    """Group findings by type: counts, distinct values, masked examples, first locations."""
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[finding.entity].append(finding)
    out = []
    for entity, items in grouped.items():
        examples = list(dict.fromkeys(f.masked or f.note for f in items))[:MAX_EXAMPLES]
        locations = list(dict.fromkeys((f.location.origin, f.location.record, f.location.column)
                                       for f in items))[:MAX_LOCATIONS]
        out.append(
            FindingOut(
                type=entity,
                count=len(items),
                distinct=len({(f.digest, f.note) for f in items}),
                examples=examples,
                locations=[LocationOut(origin=o, record=r, column=c) for o, r, c in locations],
            )
        )
    return sorted(out, key=lambda f: (-f.count, f.type))


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


