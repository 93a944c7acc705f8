"""The redacted copy: values masked where they are, everything else as it was, in the same format."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from detectors.errors import Unredactable
from detectors.redact import XLSX, redact
from gateway.pipeline import Pipeline
from tests.conftest import CORPUS
from tests.files import people, xlsx

CONTACT = {"EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS"}
ALL = CONTACT | {"CREDIT_CARD", "IBAN_CODE", "US_SSN", "SE_PERSONNUMMER", "NL_BSN", "UK_NINO"}


def test_a_csv_keeps_its_rows_columns_and_other_cells(pipeline: Pipeline) -> None:
    blob = (CORPUS / "customers_q3.csv").read_bytes()
    copy = redact(blob, "text/csv", pipeline.scanner.spans, CONTACT)
    before = list(csv.reader(io.StringIO(blob.decode())))
    after = list(csv.reader(io.StringIO(copy.data.decode())))
    assert len(after) == len(before) and all(len(a) == len(b) for a, b in zip(after, before, strict=True))
    assert after[0] == before[0]  # the header
    for old, new in zip(before[1:], after[1:], strict=True):
        assert new[0] == old[0] and new[3] == old[3]  # names and companies stay: the policy masks contact data
        assert new[1] == "[email]" and new[2] == "[phone]"
    assert copy.masked["EMAIL_ADDRESS"] == len(before) - 1


def test_only_the_entities_asked_for_are_masked(pipeline: Pipeline) -> None:
    blob = (CORPUS / "customers_q3.csv").read_bytes()
    copy = redact(blob, "text/csv", pipeline.scanner.spans, {"EMAIL_ADDRESS"})
    rows = list(csv.reader(io.StringIO(copy.data.decode())))
    assert all(row[1] == "[email]" for row in rows[1:]) and not any("[phone]" in row[2] for row in rows[1:])


def test_prose_masks_the_value_inside_the_sentence_and_keeps_line_endings(pipeline: Pipeline) -> None:
    text = ("Hej,\r\nkortet 4111 1111 1111 1111 ska återbetalas; mejla anna.berg@example.se om det.\r\n"
            "Tack!\r\n").encode("cp1252")
    copy = redact(text, "text/plain", pipeline.scanner.spans, ALL)
    out = copy.data.decode("cp1252")  # the same encoding as the file
    assert out == "Hej,\r\nkortet [card number] ska återbetalas; mejla [email] om det.\r\nTack!\r\n"


def test_json_keeps_keys_structure_and_types(pipeline: Pipeline) -> None:
    blob = (CORPUS / "segment.json").read_bytes()
    copy = redact(blob, "application/json", pipeline.scanner.spans, CONTACT)
    before, after = json.loads(blob), json.loads(copy.data)
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert new.keys() == old.keys() and new["name"] == old["name"] and new["email"] == "[email]"


def test_nested_json_and_json_lines(pipeline: Pipeline) -> None:
    records = [{"id": i, "contact": {"mail": row[1], "tel": row[2]}, "tags": ["vip"], "active": True}
               for i, row in enumerate(people(6))]
    nested = json.dumps({"customers": records}, indent=2).encode()
    after = json.loads(redact(nested, "application/json", pipeline.scanner.spans, CONTACT).data)
    assert [c["contact"] for c in after["customers"]] == [{"mail": "[email]", "tel": "[phone]"}] * 6
    assert [c["id"] for c in after["customers"]] == list(range(6)) and after["customers"][0]["active"] is True
    lines = "\n".join(json.dumps(r) for r in records).encode() + b"\n"
    out = redact(lines, "application/x-ndjson", pipeline.scanner.spans, CONTACT).data.decode()
    assert [json.loads(line)["contact"]["mail"] for line in out.splitlines()] == ["[email]"] * 6


def test_xlsx_cells_are_masked_in_place(pipeline: Pipeline) -> None:
    rows: list[list[object]] = [["Namn", "E-post", "Telefon", "Belopp"]]
    rows += [[name, email, phone, 100 + i] for i, (name, email, phone) in enumerate(people(12))]
    blob = xlsx({"Kunder": rows, "Info": [["Notes"], ["nothing personal here"]]})
    copy = redact(blob, XLSX, pipeline.scanner.spans, CONTACT)
    workbook = openpyxl.load_workbook(io.BytesIO(copy.data))
    sheet = workbook["Kunder"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == rows[0] and len(values) == len(rows)
    assert all(v[1] == "[email]" and v[2] == "[phone]" for v in values[1:])
    assert [v[3] for v in values[1:]] == [100 + i for i in range(12)]  # numbers stay numbers
    assert workbook["Info"]["A2"].value == "nothing personal here"


def test_other_formats_and_broken_workbooks_are_refused_plainly(pipeline: Pipeline) -> None:
    with pytest.raises(Unredactable, match="text, CSV, JSON and Excel"):
        redact((CORPUS / "refunds.docx").read_bytes(), "application/vnd.openxmlformats-officedocument."
               "wordprocessingml.document", pipeline.scanner.spans, ALL)
    with pytest.raises(Unredactable, match="can't be opened"):
        redact(b"PK\x03\x04 not really a workbook", XLSX, pipeline.scanner.spans, ALL)


def test_a_copy_holds_no_value_that_was_found(pipeline: Pipeline) -> None:
    """Whatever the format, a second scan of the copy finds none of the masked entities."""
    from detectors.findings import Layout, Part

    for name, mime in (("customers_q3.csv", "text/csv"), ("segment.json", "application/json")):
        copy = redact((CORPUS / name).read_bytes(), mime, pipeline.scanner.spans, CONTACT)
        text = copy.data.decode()
        assert not [s for s in pipeline.scanner.spans(Part(text, name, Layout.PROSE)) if s[2] in CONTACT]


def test_tsv_with_quoted_cells_and_crlf(pipeline: Pipeline) -> None:
    rows = [["Name", "E-mail", "Comment"]] + [[name, email, f'said "hi", {i}'] for i, (name, email, _) in
                                               enumerate(people(8))]
    out = io.StringIO(newline="")
    csv.writer(out, delimiter="\t", lineterminator="\r\n").writerows(rows)
    copy = redact(out.getvalue().encode("utf-8-sig"), "text/tab-separated-values", pipeline.scanner.spans, CONTACT)
    assert copy.data.startswith(b"\xef\xbb\xbf")  # the byte-order mark stays, for Excel
    back = list(csv.reader(io.StringIO(copy.data.decode("utf-8-sig"), newline=""), delimiter="\t"))
    assert back[0] == rows[0] and [r[1] for r in back[1:]] == ["[email]"] * 8
    assert [r[2] for r in back[1:]] == [r[2] for r in rows[1:]]  # quoted cells come back the same
    assert b"\r\n" in copy.data and b"\r\r" not in copy.data
