"""Real files in real formats: text, tables and labels are found, with where they came from."""

from __future__ import annotations

import gzip
import secrets

import pytest

from detectors import entities as E
from detectors.findings import ScanResult
from detectors.limits import Limits
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher, scan_blob
from tests import files

SCANNER = Scanner(Registry(default_recognizers()), ValueHasher(secrets.token_bytes(32)))
HEADER = ["name", "email", "phone"]


def scan(blob: bytes, name: str = "upload") -> ScanResult:
    return scan_blob(SCANNER, blob, name, Limits())


def origins(result: ScanResult, entity: str) -> set[str]:
    return {f.location.origin for f in result.findings if f.entity == entity}


def test_docx_text_tables_header_and_comments() -> None:
    blob = files.docx(["Refunds: card 4111 1111 1111 1111"], rows=[HEADER, *files.people(3)],
                      header="Call +46 70 999 88 77", comment="ssn 891-13-2933")
    result = scan(blob, "refunds.docx")
    assert origins(result, E.CREDIT_CARD) == {"refunds.docx"}
    assert origins(result, E.EMAIL_ADDRESS) == {"refunds.docx › table 1"}
    assert "refunds.docx › header" in origins(result, E.PHONE_NUMBER)
    assert origins(result, E.US_SSN) == {"refunds.docx › comments"}


def test_xlsx_sheets_are_tables_with_headers() -> None:
    blob = files.xlsx({"Kunder": [["namn", "epost", "telefon"], *files.people(4)], "Summary": [["total", 4]]})
    result = scan(blob, "kunder.xlsx")
    assert origins(result, E.EMAIL_ADDRESS) == {"kunder.xlsx › sheet Kunder"}
    cells = sorted((f.location.record, f.location.column) for f in result.findings if f.entity == E.EMAIL_ADDRESS)
    assert cells == [(2, 2), (3, 2), (4, 2), (5, 2)]  # B2..B5: row and column give the cell


def test_pptx_slides_and_speaker_notes() -> None:
    blob = files.pptx(["Q3 plan", "Contact anna@example.com"], notes=["", "BSN 111222333"])
    result = scan(blob, "deck.pptx")
    assert origins(result, E.EMAIL_ADDRESS) == {"deck.pptx › slide 2"}
    assert origins(result, E.NL_BSN) == {"deck.pptx › notes 2"}


def test_pdf_text_per_page() -> None:
    blob = files.pdf([["Intro"], ["Attendee: jan@example.nl, +31 6 12345678"]])
    result = scan(blob, "attendees.pdf")
    assert origins(result, E.EMAIL_ADDRESS) == {"attendees.pdf › page 2"}
    assert result.mime_type == "application/pdf"


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pdf"])
@pytest.mark.parametrize(("label", "confidential"), [("Confidential", True), ("Highly Confidential", True),
                                                     ("General", False), ("Public", False)])
def test_sensitivity_labels_from_document_properties(kind: str, label: str, confidential: bool) -> None:
    if kind == "docx":
        blob = files.with_label(files.docx(["Roadmap 2027"]), label)
    elif kind == "xlsx":
        blob = files.with_label(files.xlsx({"Data": [["month", "visits"], [1, 100]]}), label)
    else:
        blob = files.pdf([["Roadmap 2027"]], label=label)
    result = scan(blob, f"plan.{kind}")
    found = [f for f in result.findings if f.entity == E.SENSITIVITY_LABEL]
    assert bool(found) is confidential
    if found:
        assert found[0].masked == label and found[0].location.origin == f"plan.{kind} › properties"


def test_visible_classification_marking_in_text() -> None:
    assert any(f.entity == E.SENSITIVITY_LABEL for f in scan(b"Classification: Confidential\n\nQ3 numbers").findings)
    assert not scan(b"This is not a confidential matter.\n").findings


def test_mail_headers_bodies_and_attachments_recursively() -> None:
    inner = files.zip_of([("people.csv", "name,email\n" + "\n".join(f"P{i},p{i}@example.com" for i in range(6)))])
    blob = files.eml("Hi, see attached. Card 4111 1111 1111 1111", [("export.zip", inner, "application/zip")])
    result = scan(blob, "fwd.eml")
    assert origins(result, E.CREDIT_CARD) == {"fwd.eml › body"}
    assert origins(result, E.EMAIL_ADDRESS) >= {"fwd.eml › headers", "fwd.eml › export.zip › people.csv"}


def test_nested_archives_keep_provenance() -> None:
    csv = b"name,email\nA,a@example.com\n"
    tar = files.tar_of([("export/people.csv", csv)])
    blob = files.zip_of([("inner.tar.gz", gzip.compress(tar)), ("notes.txt", "nothing")])
    result = scan(blob, "outer.zip")
    assert origins(result, E.EMAIL_ADDRESS) == {"outer.zip › inner.tar.gz › inner.tar › export/people.csv"}


def test_a_csv_renamed_png_is_read_as_csv() -> None:
    result = scan(b"name,email\nA,a@example.com\nB,b@example.com\n", "holiday.png")
    assert result.mime_type == "text/csv" and len(result.of({E.EMAIL_ADDRESS})) == 2


def test_image_text_is_read_with_ocr() -> None:
    blob = files.png_with_text(["Customer list", "anna.berg@example.com", "SSN 891-13-2933"])
    result = scan(blob, "screenshot.png")
    assert {f.entity for f in result.findings} >= {E.EMAIL_ADDRESS, E.US_SSN}
    assert origins(result, E.EMAIL_ADDRESS) == {"screenshot.png › text in image"}


def test_odt_text_tables_and_label() -> None:
    blob = files.odt(["Kontakt: anna@example.com"], rows=[HEADER, *files.people(2)], label="Konfidentiell")
    result = scan(blob, "plan.odt")
    assert result.mime_type == "application/vnd.oasis.opendocument.text"
    assert origins(result, E.EMAIL_ADDRESS) == {"plan.odt", "plan.odt › table 1"}
    assert [f.masked for f in result.findings if f.entity == E.SENSITIVITY_LABEL] == ["Konfidentiell"]
