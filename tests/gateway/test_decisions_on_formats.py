"""Decisions on real formats through the whole pipeline: labels, contact tables in documents, mail."""

from __future__ import annotations

import pytest

from gateway.pipeline import Pipeline
from gateway.records import Envelope
from tests import files

Outcome = tuple[str, list[str]]


def decide(pipeline: Pipeline, blob: bytes, name: str, destination: str = "https://wetransfer.com/") -> Outcome:
    report = pipeline.inspect(blob, Envelope(name, destination), "en")
    return report.decision.value, [r.rule for r in report.reasons]


@pytest.mark.parametrize(("label", "expected"), [("Confidential", "block"), ("Highly Confidential", "block"),
                                                 ("General", "allow"), ("Public", "allow")])
def test_labelled_documents_to_an_unsanctioned_destination(pipeline: Pipeline, label: str, expected: str) -> None:
    for name, blob in (("plan.docx", files.with_label(files.docx(["Roadmap 2027"]), label)),
                       ("plan.pdf", files.pdf([["Roadmap 2027"]], label=label))):
        decision, rules = decide(pipeline, blob, name)
        assert decision == expected, name
        assert rules == (["block-confidential-label-external"] if expected == "block" else [])


def test_a_confidential_document_may_go_to_the_company_sharepoint(pipeline: Pipeline) -> None:
    blob = files.with_label(files.docx(["Roadmap 2027"]), "Confidential")
    assert decide(pipeline, blob, "plan.docx", "https://corp-example.sharepoint.com/sites/x")[0] == "allow"


def test_a_confidential_label_offers_the_secure_routes(pipeline: Pipeline) -> None:
    blob = files.with_label(files.docx(["Roadmap 2027"]), "Confidential")
    report = pipeline.inspect(blob, Envelope("plan.docx", "dropbox.com"), "sv")
    assert [a.id for a in report.alternatives] == ["secure-transfer", "vpn-share", "request-review"]
    assert "Confidential" in report.reasons[0].message or "Konfidentiell" in report.reasons[0].message


def test_contact_table_in_a_word_document(pipeline: Pipeline) -> None:
    blob = files.docx(["Partner day"], rows=[["name", "email", "phone"], *files.people(6)])
    assert decide(pipeline, blob, "attendees.docx") == ("block", ["block-contact-lists-external"])


def test_mail_with_a_contact_list_attachment(pipeline: Pipeline) -> None:
    sheet = files.xlsx({"Leads": [["name", "email", "phone"], *files.people(8)]})
    blob = files.eml("Here is the list for the agency.", [("leads.xlsx", sheet, "application/octet-stream")])
    assert decide(pipeline, blob, "fwd.eml") == ("block", ["block-contact-lists-external"])


@pytest.mark.parametrize(("rows", "expected"), [(5, "block"), (4, "allow")])
def test_a_postal_address_list_counts_people_without_any_email_or_phone(
    pipeline: Pipeline, rows: int, expected: str
) -> None:
    streets = ["Storgatan 12", "Kerkstraat 5A", "Main Street 221", "Hauptstraße 3", "Drottninggatan 45"]
    table = [["Namn", "Adress", "Postnummer", "Ort"]] + [
        [f"Person {i}", streets[i], f"11{i} 22", "Stockholm"] for i in range(rows)]
    blob = files.xlsx({"Utskick": table})
    assert decide(pipeline, blob, "utskick.xlsx")[0] == expected
