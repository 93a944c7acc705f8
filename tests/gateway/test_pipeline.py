"""Early decision: once a block is certain the scan stops, and the answer says its findings are partial."""

from __future__ import annotations

import secrets

from gateway.pipeline import Pipeline
from gateway.records import Envelope
from gateway.render.text import format_text
from tests import files

CONTACTS = "name,email\n" + "\n".join(f"P{i},p{i}@example.com" for i in range(8))


def test_archive_scan_stops_once_the_block_is_certain(pipeline: Pipeline) -> None:
    filler = [(f"notes-{i}.txt", secrets.token_hex(200_000)) for i in range(12)]
    blob = files.zip_of([("a-customers.csv", CONTACTS), *filler])
    report = pipeline.inspect(blob, Envelope("export.zip", "wetransfer.com"), "en")
    assert report.decision == "block" and report.reasons[0].rule == "block-contact-lists-external"
    assert report.scan.partial
    assert report.scan.parts < 13  # the rest of the archive was not needed
    assert "the file may contain more" in format_text(report)
    # the unread rest may hold anything: only routes fit for unchecked content are offered
    assert [a.id for a in report.alternatives] == ["secure-transfer", "vpn-share", "request-review"]


def test_allowed_uploads_are_scanned_to_the_end(pipeline: Pipeline) -> None:
    blob = files.zip_of([(f"notes-{i}.txt", f"meeting notes {i}") for i in range(5)])
    report = pipeline.inspect(blob, Envelope("notes.zip", "wetransfer.com"), "en")
    assert report.decision == "allow" and not report.scan.partial and report.scan.parts == 5


def test_nothing_stops_early_for_a_sanctioned_destination(pipeline: Pipeline) -> None:
    blob = files.zip_of([("a-customers.csv", CONTACTS), ("b.txt", "more")])
    report = pipeline.inspect(blob, Envelope("export.zip", "corp-example.sharepoint.com"), "en")
    assert report.decision == "allow" and not report.scan.partial and report.scan.parts == 2
