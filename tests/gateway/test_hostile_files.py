"""Hostile and unreadable uploads: each ends in a clear decision, never a crash, a hang or a pass.

Every file is generated here in its real format and goes through the whole
pipeline, including the isolated extraction workers.
"""

from __future__ import annotations

import io
import os
import secrets
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from detectors.extract import extract, fresh_context
from detectors.findings import Part, Skipped
from detectors.limits import Limits
from gateway.pipeline import Pipeline
from gateway.records import Envelope
from gateway.render.report import Report
from gateway.runtime import Runtime
from gateway.settings import Settings
from tests import files
from tests.conftest import CORPUS, POLICIES

MB = 1024 * 1024
DETOUR = str(Path(sys.executable).parent / "detour")


@pytest.fixture(scope="module")
def strict(settings: Settings) -> Iterator[Pipeline]:
    """A pipeline with short worker time limits, so hanging parsers are cut off quickly."""
    runtime = Runtime.build(settings.model_copy(update={"file_seconds": 8.0, "upload_seconds": 8.0}))
    yield runtime.pipeline
    runtime.close()


def inspect(pipeline: Pipeline, blob: bytes, name: str) -> Report:
    return pipeline.inspect(blob, Envelope(name, "https://wetransfer.com/"), "en")


def assert_unscannable(report: Report, *words: str) -> None:
    assert report.decision == "block"
    assert "block-unscannable-external" in [r.rule for r in report.reasons]
    notes = " ".join(e for f in report.findings if f.type == "UNSCANNABLE" for e in f.examples)
    for word in words:
        assert word in notes, notes
    assert report.alternatives and report.alternatives[-1].kind == "request_review"


def test_zip_bomb_by_compression_ratio(strict: Pipeline) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.txt", "w") as member:
        for _ in range(200):
            member.write(b"\0" * MB)
    report = inspect(strict, buffer.getvalue(), "bomb.zip")
    assert_unscannable(report, "compressed suspiciously well")


def test_nested_zip_bomb_42_style(strict: Pipeline) -> None:
    layer = files.zip_of([("0.txt", b"\0" * MB)])
    for _ in range(8):
        layer = files.zip_of([(f"{i}.zip", layer) for i in range(8)])
    report = inspect(strict, layer, "42.zip")
    assert_unscannable(report)
    notes = " ".join(e for f in report.findings for e in f.examples)
    assert "nested more than" in notes or "holds more than" in notes or "unpacks to more than" in notes


def overlapping_zip(member: bytes, copies: int) -> bytes:
    """Every directory entry points at the same local file: ``copies`` times the output from one member."""
    base = files.zip_of([("a.txt", member)], compression=zipfile.ZIP_STORED)
    end = base.rfind(b"PK\x05\x06")
    central = base.rfind(b"PK\x01\x02", 0, end)
    entry = base[central:end]
    entries = entry * copies
    eocd = bytearray(base[end:])
    struct.pack_into("<HHII", eocd, 8, copies, copies, len(entries), central)
    return base[:central] + entries + bytes(eocd)


def test_zip_with_overlapping_entries_is_stopped_by_the_byte_budget() -> None:
    """2,000 entries share one 4 MB text member: 8 GB of output from 4 MB, stopped by the budget."""
    limits = Limits(max_total_bytes=64 * MB)
    items = list(extract(overlapping_zip(b"plain words\n" * (4 * MB // 12), 2000), "overlap.zip",
                         fresh_context(limits)))
    reasons = [i.reason for i in items if isinstance(i, Skipped)]
    assert reasons and all("unpacks to more than the 64 MB one upload may hold" in r for r in reasons)
    assert sum(isinstance(i, Part) for i in items) == 16  # 16 × 4 MB fit in the budget, no more


def test_zip_with_overlapping_entries_is_blocked(strict: Pipeline) -> None:
    assert_unscannable(inspect(strict, overlapping_zip(secrets.token_bytes(4 * MB), 2000), "overlap.zip"))


def test_zip_slip_member_names_are_only_names(strict: Pipeline, tmp_path: Path) -> None:
    contacts = "name,email\n" + "\n".join(f"P{i},p{i}@example.com" for i in range(6))
    blob = files.zip_of([("../../../../tmp/detour-slip.csv", contacts), ("/etc/detour-abs.txt", "x")])
    report = inspect(strict, blob, "slip.zip")
    assert report.decision == "block" and report.reasons[0].rule == "block-contact-lists-external"
    assert report.findings[0].locations[0].origin == "slip.zip › ../../../../tmp/detour-slip.csv"
    assert not Path("/tmp/detour-slip.csv").exists() and not Path("/etc/detour-abs.txt").exists()


def test_billion_laughs_inside_a_docx(strict: Pipeline) -> None:
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + "".join(f'<!ENTITY lol{i} "{"&lol" + (str(i - 1) if i > 1 else "") + ";" * 1}' * 10 + '">'
                        for i in range(1, 10))
              + ']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
              "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    package = files.docx(["placeholder"])
    source = zipfile.ZipFile(io.BytesIO(package))
    blob = files.zip_of([(n, laughs if n == "word/document.xml" else source.read(n)) for n in source.namelist()])
    report = inspect(strict, blob, "laughs.docx")
    assert_unscannable(report, "XML built to attack parsers")


def test_truncated_pdf(strict: Pipeline) -> None:
    data = (CORPUS / "attendees.pdf").read_bytes()
    report = inspect(strict, data[: len(data) // 3], "truncated.pdf")
    assert report.decision == "block"


def test_pdf_with_a_page_tree_that_loops(strict: Pipeline) -> None:
    blob = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[2 0 R 3 0 R]/Count 2>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/Contents 4 0 R>>endobj\n"
            b"4 0 obj<</Length 0>>stream\n\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    assert_unscannable(inspect(strict, blob, "loop.pdf"))


def test_encrypted_zip_member(strict: Pipeline) -> None:
    blob = files.mark_zip_encrypted(files.zip_of([("customers.csv", "name,email\nA,a@example.com\n")]))
    report = inspect(strict, blob, "secret.zip")
    assert_unscannable(report, "is encrypted")
    assert "can't be checked" in report.helpdesk.message


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_password_protected_office_file(strict: Pipeline, kind: str) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = files.docx(["Q3"]) if kind == "docx" else files.xlsx({"S": [["a", 1]]})
    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt("correct horse", encrypted)
    report = inspect(strict, encrypted.getvalue(), f"locked.{kind}")
    assert_unscannable(report, "password-protected")


def test_password_protected_pdf(strict: Pipeline) -> None:
    report = inspect(strict, files.pdf([["secret plans"]], password="hunter2"), "locked.pdf")
    assert_unscannable(report, "password-protected")


def test_corrupt_file_with_a_pdf_header(strict: Pipeline) -> None:
    report = inspect(strict, b"%PDF-1.7\n" + secrets.token_bytes(20_000), "broken.pdf")
    assert report.decision == "block"


def test_image_with_contact_list_text_is_blocked(strict: Pipeline) -> None:
    lines = [f"p{i}.lastname@example.com  +46 70 {100 + i} 22 33" for i in range(6)]
    report = inspect(strict, files.png_with_text(["Customers", *lines]), "screenshot.png")
    assert report.decision == "block" and report.reasons[0].rule == "block-contact-lists-external"


# Runs a command and writes its peak RSS. A process forked from this (large) test process would
# start from the test process's own high-water mark; one forked from this small helper does not.
_PEAK_OF_CHILD = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def test_one_gigabyte_sparse_upload_is_decided_without_reading_it_into_memory(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.bin"
    with sparse.open("wb") as fh:
        fh.truncate(1024 * MB)
    out, err = tmp_path / "out.json", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        code = subprocess.run([sys.executable, "-c", _PEAK_OF_CHILD, str(tmp_path / "peak"), DETOUR, "scan", "--format",
                               "json", "--policies", str(POLICIES), str(sparse)],
                              stdout=stdout, stderr=stderr, env={**os.environ}, timeout=300, check=False).returncode
    peak_kb = int((tmp_path / "peak").read_text())
    assert code == 1, err.read_text()
    assert '"decision": "block"' in out.read_text() and "larger than the limit" in out.read_text()
    assert peak_kb < 900 * 1024, f"peak RSS {peak_kb // 1024} MB"


def test_service_keeps_answering_after_hostile_files(strict: Pipeline) -> None:
    inspect(strict, b"%PDF-1.7\n" + b"\xff" * 1000, "junk.pdf")
    report = inspect(strict, (CORPUS / "customers_q3.csv").read_bytes(), "customers_q3.csv")
    assert report.decision == "block" and report.reasons[0].rule == "block-contact-lists-external"


def test_a_worker_that_runs_out_of_time_is_stopped_and_reported(make_runtime: Callable[..., Runtime]) -> None:
    slow = make_runtime(file_seconds=0.05).pipeline
    report = inspect(slow, files.png_with_text(["takes a while to read"] * 20), "slow.png")
    assert_unscannable(report, "took longer than 0.05 seconds")


@pytest.mark.parametrize("carrier", ["pdf", "png", "jpeg", "gif", "csv"])
def test_a_contact_list_hidden_behind_another_file_is_blocked(strict: Pipeline, carrier: str) -> None:
    """`cat newsletter.pdf customers.zip > poly.pdf`: a PDF to libmagic, an archive to `unzip`."""
    cover = {"pdf": files.pdf([["Spring newsletter"]]), "png": files.image("PNG", "Spring"),
             "jpeg": files.image("JPEG", "Spring"), "gif": files.image("GIF", "Spring"),
             "csv": b"sku,name\nP1,lamp\n"}[carrier]
    hidden = files.zip_of([("customers.csv", (CORPUS / "customers_q3.csv").read_bytes())])
    report = inspect(strict, cover + hidden, f"newsletter.{carrier}")
    assert report.decision == "block" and report.reasons[0].rule == "block-contact-lists-external"
    assert any("customers.csv" in location.origin for f in report.findings for location in f.locations)


def test_a_contact_list_attached_to_a_pdf_is_blocked(strict: Pipeline) -> None:
    blob = files.pdf([["Please see the attachment."]],
                     attachments=[("customers.csv", (CORPUS / "customers_q3.csv").read_bytes())])
    report = inspect(strict, blob, "newsletter.pdf")
    assert report.decision == "block" and report.reasons[0].rule == "block-contact-lists-external"
