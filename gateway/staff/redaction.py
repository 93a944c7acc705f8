"""The redacted copy offered on the decision page, where the policy's ``redaction:`` allows it.

A copy is offered for a stopped (or warned) text, CSV/TSV, JSON or XLSX file
when every data class that stopped it is one the policy lets Detour mask, and
nothing unreadable was found. The person chooses the same file again (Detour
never keeps uploads); it must be the file of the decision (same SHA-256). The
copy is checked again as an upload to the same destination (through the one
inspection entry, so the re-check is recorded too, channel ``redaction``), and
handed out only if that check allows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from detectors import entities
from detectors.errors import Unredactable
from detectors.redact import Redacted, redact, redactable
from gateway.pipeline import Pipeline
from gateway.policy.engine import FAILURE_RULE
from gateway.records import Action, Channel, Envelope
from gateway.render.i18n import translator
from gateway.render.labels import label
from gateway.render.report import Report, display_name

REDACTED_ROUTE = "redacted-copy"  # recorded with the routes taken, so IT sees the copy is used


@dataclass(frozen=True)
class Copy:
    data: bytes
    media_type: str
    file_name: str
    masked: int


def offered(pipeline: Pipeline, report: Report) -> bool:
    """Whether the decision page offers a redacted copy of this file."""
    policy = pipeline.policy.document.redaction
    if not policy.enabled or report.decision is Action.ALLOW or not report.reasons:
        return False
    if not redactable(report.file_type.mime):
        return False
    if any(f.type in (entities.UNSCANNABLE, entities.DETECTOR_ERROR) for f in report.findings):
        return False
    stopping = {data_class for reason in report.reasons for data_class in reason.data_classes}
    return bool(stopping) and stopping <= set(policy.data_classes)


def make_copy(pipeline: Pipeline, report: Report, blob: bytes) -> Copy:
    """The redacted copy of ``blob``, the file of ``report``. Raises ``Unredactable`` with a reason
    for people: not the same file, a format that can't be redacted, or a copy still not allowed."""
    _ = translator(report.language)
    if not offered(pipeline, report):
        raise Unredactable(_("A redacted copy is not offered for this decision."))
    if hashlib.sha256(blob).hexdigest() != report.sha256:
        raise Unredactable(_("This is not the file that was stopped. Choose %(file)s, as it was when you tried "
                             "to upload it.") % {"file": display_name(report.file)})
    document = pipeline.policy.document
    chosen = [data_class for data_class in document.data_classes if data_class.id in document.redaction.data_classes]
    masked_entities = {detector for data_class in chosen for detector in data_class.detectors}
    if any(data_class.min_people for data_class in chosen):
        masked_entities.add(entities.PERSON)  # the names that made them people go too (the page listed them)
    labels = {entity: f"[{label(entity, _)}]" for entity in masked_entities}  # in the person's language
    try:
        copy: Redacted = redact(blob, report.file_type.mime, pipeline.scanner.spans, masked_entities, labels)
    except Unredactable as exc:
        raise Unredactable(_("Detour could not make a copy of this file: %(reason)s.") % {"reason": exc}) from exc
    _check(pipeline, report, copy.data)
    stem, dot, suffix = display_name(report.file).rpartition(".")
    name = f"{stem}-redacted.{suffix}" if dot and stem else f"{display_name(report.file)}-redacted"
    return Copy(copy.data, copy.media_type, name, sum(copy.masked.values()))


def _check(pipeline: Pipeline, report: Report, data: bytes) -> None:
    """The copy, decided as an upload to the same destination by the same person."""
    _ = translator(report.language)
    envelope = Envelope(report.file, report.destination.url or report.destination.host, report.user, report.group,
                        Channel.REDACTION)
    checked = pipeline.inspect(data, envelope, report.language)
    if any(reason.rule.startswith(FAILURE_RULE.format("")) for reason in checked.reasons):
        # not checked (no capacity left, out of time): a copy is handed out only when it was checked
        raise Unredactable(_("Detour could not check the copy just now. Please try again in a moment."))
    if checked.decision is not Action.ALLOW:
        stopping = {c for reason in checked.reasons for c in reason.data_classes}
        still = ", ".join(d.title for d in checked.data_classes if d.id in stopping) or \
            ", ".join(r.message for r in checked.reasons)
        raise Unredactable(_("Even with the values masked, the copy would not be allowed (%(found)s). Please use "
                             "one of the routes on the page.") % {"found": still})
