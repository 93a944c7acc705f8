"""Metadata is content too: file names, URL paths, user names and free text are scanned before they are kept.

``payslip_811218-9876_4111111111111111.txt`` names a person and a card. Before an
upload's metadata is recorded, logged, shown on a page or sent to the helpdesk,
it goes through the same detectors as the upload's content, and every value
found is replaced by its mask (``detectors.masking``): the decision store, the
audit log, the pages and the webhook never see it. What staff type into the
page's forms (a business reason, a review request, "this looks wrong") is
treated the same way.

The policy still decides on the metadata as it was sent (a rule for a user
needs the user's name); only what is kept and shown is masked.
"""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import unquote, urlsplit, urlunsplit

from detectors.findings import Layout, Part
from detectors.masking import mask
from detectors.scan import Scanner
from gateway.records import Decision, DetectorSummary, Evidence, Place, Upload

log = logging.getLogger(__name__)

NOT_CONTENT = frozenset({"UNSCANNABLE", "DETECTOR_ERROR"})  # their examples are Detour's sentences, with origins
MASK_FAILED = "[masked]"  # a detector failed on the text: nothing of it is kept


class Masker:
    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner

    def text(self, value: str) -> str:
        """``value`` with every value the detectors find replaced by its mask."""
        if not value:
            return value
        # underscores join the words of file names (payslip_811218-9876.pdf); to the detectors they are spaces
        probe = value.replace("_", " ")
        try:
            spans = self.scanner.spans(Part(probe, "metadata", Layout.PROSE))
        except Exception:
            log.exception("a detector failed on metadata; the whole text is masked")
            return MASK_FAILED
        for start, end, entity in sorted(spans, reverse=True):
            value = value[:start] + mask(entity, value[start:end]) + value[end:]
        return value

    def optional(self, value: str | None) -> str | None:
        return self.text(value) if value else value

    def url(self, url: str) -> str:
        """A URL as it may be kept: the host (the policy's destinations name it) and the path, percent-decoded
        and masked; no credentials, query or fragment (upload URLs carry signatures and tokens there)."""
        if "://" not in url:  # a bare host, perhaps with a path
            return self.text(url)
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, host, self.text(unquote(parts.path)), "", ""))

    def upload(self, upload: Upload) -> Upload:
        return dataclasses.replace(upload, file_name=self.text(upload.file_name),
                                   destination=self.url(upload.destination), user=self.optional(upload.user),
                                   group=self.optional(upload.group))

    def decision(self, decision: Decision) -> Decision:
        destination = dataclasses.replace(decision.destination, url=self.url(decision.destination.url))
        exemption = decision.exemption
        if exemption is not None:  # whom IT's exception is for, as the upload's sender is kept: masked
            exemption = dataclasses.replace(exemption, user=self.optional(exemption.user),
                                            group=self.optional(exemption.group))
        return dataclasses.replace(decision, destination=destination, exemption=exemption)

    def evidence(self, evidence: Evidence) -> Evidence:
        """Origins (file and member names) of the places found, and Detour's sentences about unreadable content."""
        return dataclasses.replace(evidence, detectors=tuple(self._summary(s) for s in evidence.detectors))

    def _summary(self, summary: DetectorSummary) -> DetectorSummary:
        examples = tuple(self.text(e) for e in summary.examples) if summary.entity in NOT_CONTENT \
            else summary.examples
        places = tuple(Place(self.text(p.origin), p.record, p.column) for p in summary.places)
        return dataclasses.replace(summary, examples=examples, places=places)
