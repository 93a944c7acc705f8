"""The pipeline: the stages in order, early decision, and whatever goes wrong decided by the policy's on_error.

- Early decision: once a block is certain the scan stops, and the answer says its findings are partial.
- Failures: an inspection that runs out of time, finds no capacity left, or hits an internal error is
  decided by ``on_error`` (block to unsanctioned destinations, allow to sanctioned ones in the shipped
  policy), in the person's language, recorded once.
- What the store keeps is enough to decide again under another policy and to render in any language.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway import pipeline as pipeline_module
from gateway.pipeline import Pipeline
from gateway.policy.engine import decide
from gateway.policy.loader import load_policy
from gateway.records import Channel, Envelope
from gateway.render.report import render
from gateway.render.text import format_text
from gateway.runtime import SPECIAL_ENTITIES, Runtime
from gateway.store.models import DecisionRow
from tests import files
from tests.conftest import CORPUS, POLICIES, policies_reading_sanctioned
from tests.factories import extraction_workers

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


def test_an_upload_no_rule_can_act_on_is_not_read(pipeline: Pipeline) -> None:
    """The shipped policy lets anything go to the company's own SharePoint: nothing there could change the
    decision, so nothing is read; the record still has the type, size and digest."""
    blob = files.zip_of([("a-customers.csv", CONTACTS), ("b.txt", "more")])
    report = pipeline.inspect(blob, Envelope("export.zip", "corp-example.sharepoint.com"), "en")
    assert report.decision == "allow" and report.scan.skipped_by_policy and report.scan.parts == 0
    assert report.file_type.mime == "application/zip" and report.size == len(blob)
    assert report.sha256 == hashlib.sha256(blob).hexdigest() and not report.findings


def _customers(rows: int) -> bytes:
    """A customer list larger than one scan piece: the pipeline decides on its first piece."""
    return ("name\temail\tphone\n" + "".join(f"Person {i}\tperson.{i}@corp.example\t+46 70 {i % 1000:03d} "
                                             f"{i % 100:02d} {(i // 100) % 100:02d}\n" for i in range(rows))).encode()


def test_a_warning_once_certain_stops_the_scan(make_runtime: Callable[..., Runtime], tmp_path: Path) -> None:
    """Contact data on a sanctioned site warns, and nothing there blocks: once the first piece has shown the
    list, the rest cannot change the decision, so it is not read (and the answer says so)."""
    runtime = make_runtime(policies_dir=policies_reading_sanctioned(tmp_path))
    blob = _customers(40_000)
    report = runtime.pipeline.inspect(blob, Envelope("customers.tsv", "corp-example.sharepoint.com"), "en")
    assert report.decision == "warn" and report.reasons[0].rule == "warn-contact-lists-anywhere"
    assert report.scan.partial and report.scan.parts == 1  # one part, read only in part
    [contacts] = [c for c in report.data_classes if c.id == "contact_data"]
    assert 5 <= contacts.people < 40_000
    assert "the file may contain more" in format_text(report)


def test_after_a_warning_the_rest_is_read_for_what_could_still_block(make_runtime: Callable[..., Runtime],
                                                                      tmp_path: Path) -> None:
    """A key still blocks on the sanctioned site: after the warning, the rest of the list is read for keys
    only (contacts no longer change anything), and the key at its end is found."""
    policies = policies_reading_sanctioned(tmp_path)
    (policies / "block-keys-anywhere.yaml").write_text(
        "rules:\n  - id: block-credentials-anywhere\n    when: {sanctioned: true, data_classes: [credentials]}\n"
        "    action: block\n    reason: {en: '{found}', sv: '{found}', nl: '{found}'}\n")
    runtime = make_runtime(policies_dir=policies)
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\\n" + secrets.token_urlsafe(300).replace("-", "+").replace("_", "/")
    blob = _customers(40_000) + f"Build bot\tbot@corp.example\t{key}\n".encode()
    full = runtime.pipeline.inspect(blob, Envelope("customers.tsv", "wetransfer.com"), "en")
    report = runtime.pipeline.inspect(blob, Envelope("customers.tsv", "corp-example.sharepoint.com"), "en")
    assert report.decision == "block" and report.reasons[0].rule == "block-credentials-anywhere"
    assert report.scan.partial
    [contacts] = [c for c in report.data_classes if c.id == "contact_data"]
    assert 5 <= contacts.people < 40_000  # counted until the warning was certain, not beyond
    assert full.decision == "block"


def test_a_threshold_only_the_whole_list_reaches_counts_every_row(make_runtime: Callable[..., Runtime],
                                                                   tmp_path: Path) -> None:
    """A data class counting 30,000 people: the first piece can't decide it, so the whole list is read, its
    dense columns counted in bulk, and every row is a person; one row short of it, nothing triggers."""
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies, ignore=shutil.ignore_patterns("examples", "tests"))
    default = policies / "default.yaml"
    text = default.read_text()
    contact = text.index("  - id: contact_data")
    default.write_text(text[:contact] + text[contact:].replace("    min_people: 5\n", "    min_people: 30000\n", 1))
    runtime = make_runtime(policies_dir=policies)
    for rows, action in ((30_000, "block"), (29_999, "allow")):
        blob = ("email,phone\n" + "".join(f"person.{i}@corp.example,+46 70 {i // 10_000:03d} {i // 100 % 100:02d} "
                                           f"{i % 100:02d}\n" for i in range(rows))).encode()
        report = runtime.pipeline.inspect(blob, Envelope("customers.csv", "wetransfer.com"), "en")
        assert report.decision == action
        [contacts] = [c for c in report.data_classes if c.id == "contact_data"]
        assert contacts.people == rows and contacts.threshold_reached == (action == "block")
        emails = next(f for f in report.findings if f.type == "EMAIL_ADDRESS")
        assert emails.count == emails.distinct == rows and emails.examples
        assert all("*" in example for example in emails.examples)


def test_only_what_the_policy_can_act_on_is_looked_for(make_runtime: Callable[..., Runtime],
                                                        tmp_path: Path) -> None:
    """A rule about contact lists on sanctioned sites: there, the card number is not looked for (no rule
    there acts on cards), the contact list is."""
    runtime = make_runtime(policies_dir=policies_reading_sanctioned(tmp_path))
    blob = CONTACTS.encode() + b"\nrefund card 4111 1111 1111 1111\n"
    inside = runtime.pipeline.inspect(blob, Envelope("c.csv", "corp-example.sharepoint.com"), "en")
    assert inside.decision == "warn" and not inside.scan.skipped_by_policy
    assert {f.type for f in inside.findings} >= {"EMAIL_ADDRESS"} and "CREDIT_CARD" not in {f.type for f in
                                                                                              inside.findings}
    outside = runtime.pipeline.inspect(blob, Envelope("c.csv", "wetransfer.com"), "en")
    assert "CREDIT_CARD" in {f.type for f in outside.findings}


# --- failures: decided by the policy's on_error ----------------------------------------------------

SLOW = files.png_with_text([f"line {i} of a scanned page of meeting notes" for i in range(40)])  # OCR: ~1.5 s
MESSAGES = {"en": ("Detour could not finish checking this file in time.", "Sorry — slow.png was stopped"),
            "sv": ("Detour hann inte kontrollera filen färdigt.", "Tyvärr – slow.png stoppades"),
            "nl": ("Detour kon dit bestand niet op tijd helemaal controleren.", "Sorry, slow.png is tegengehouden")}


@pytest.mark.parametrize("language", ["en", "sv", "nl"])
def test_a_timeout_is_decided_by_on_error_in_the_persons_language(make_runtime: Callable[..., Runtime],
                                                                   language: str) -> None:
    runtime = make_runtime(inspect_seconds=0.2)
    report = runtime.pipeline.inspect(SLOW, Envelope("slow.png", "wetransfer.com"), language)  # type: ignore[arg-type]
    reason, message = MESSAGES[language]
    assert (report.decision, report.reasons[0].rule, report.language) == ("block", "internal-timeout", language)
    assert report.reasons[0].message == reason and report.helpdesk.message.startswith(message)
    assert report.decision_id in report.helpdesk.message and report.scan.partial
    assert [a.id for a in report.alternatives] == ["secure-transfer", "vpn-share", "request-review"]
    stored = runtime.find(report.decision_id, "nl")  # recorded, and its page can switch language
    assert stored is not None and stored.report.reasons[0].message == MESSAGES["nl"][0]


def test_a_timeout_to_a_sanctioned_destination_goes_through_as_the_policy_says(
        make_runtime: Callable[..., Runtime], tmp_path: Path) -> None:
    runtime = make_runtime(inspect_seconds=0.2, policies_dir=policies_reading_sanctioned(tmp_path))
    report = runtime.pipeline.inspect(SLOW, Envelope("slow.png", "https://corp-example.sharepoint.com/sites/x"))
    assert (report.decision, report.reasons[0].rule) == ("allow", "internal-timeout")
    assert runtime.find(report.decision_id) is not None


def test_a_timed_out_inspection_stops_its_worker_and_records_once(make_runtime: Callable[..., Runtime],
                                                                   tmp_path: Path) -> None:
    runtime = make_runtime(inspect_seconds=0.3, data_dir=tmp_path)  # a store of its own: one upload in it
    report = runtime.pipeline.inspect(SLOW, Envelope("slow.png", "wetransfer.com"))
    assert report.reasons[0].rule == "internal-timeout"
    for _ in range(100):  # the abandoned work notices at its next poll and kills its worker
        if not extraction_workers() and not [t for t in threading.enumerate() if _inspecting(t)]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the abandoned inspection did not stop its extraction worker")
    runtime.recorder.flush()  # written off the answer's path: wait for the writer
    with runtime.store.session() as session:
        names = [row.file_name for row in session.query(DecisionRow).filter(DecisionRow.sha256 == report.sha256)]
    assert names == ["slow.png"]  # the abandoned work recorded nothing of its own


def _inspecting(thread: threading.Thread) -> bool:
    """A pool thread still inside an inspection (idle pool threads wait in the executor's queue)."""
    frame = sys._current_frames().get(thread.ident or -1) if thread.name.startswith("inspect_") else None
    return frame is not None and any("in _inspect\n" in line for line in traceback.format_stack(frame))


def test_no_capacity_left_is_decided_by_on_error_at_once(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(inspect_threads=1, inspect_queue=0)
    first = threading.Thread(target=runtime.pipeline.inspect, args=(SLOW, Envelope("slow.png", "wetransfer.com")))
    first.start()
    time.sleep(0.2)  # the one thread is busy and nothing may wait
    report = runtime.pipeline.inspect((CORPUS / "products.csv").read_bytes(), Envelope("p.csv", "wetransfer.com"),
                                      "sv")
    first.join()
    assert (report.decision, report.reasons[0].rule) == ("block", "internal-busy")
    assert report.reasons[0].message == "Detour är hårt belastat just nu och hann inte kontrollera filen."
    assert runtime.find(report.decision_id) is not None
    again = runtime.pipeline.inspect((CORPUS / "products.csv").read_bytes(), Envelope("p.csv", "wetransfer.com"))
    assert again.decision == "allow"  # capacity is back


def test_uploads_held_in_memory_are_bounded_and_one_alone_always_goes(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(inspect_memory_mb=16)
    big = b"sku,name\n" + b"P0001,desk lamp\n" * (1024 * 1024)  # 16 MB of a harmless product list
    first = threading.Thread(target=runtime.pipeline.inspect, args=(SLOW, Envelope("slow.png", "wetransfer.com")))
    first.start()
    time.sleep(0.2)  # the slow image is held; the budget has no room for 16 MB more
    refused = runtime.pipeline.inspect(big, Envelope("big.csv", "wetransfer.com"))
    first.join()
    assert (refused.decision, refused.reasons[0].rule) == ("block", "internal-busy")
    assert runtime.pipeline.pool.held == 0
    alone = runtime.pipeline.inspect(big, Envelope("big.csv", "wetransfer.com"))  # alone, it always goes
    assert alone.decision == "allow" and alone.size == len(big)


def test_a_bug_while_deciding_is_decided_by_on_error_not_raised(pipeline: Pipeline,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug in deciding")

    monkeypatch.setattr(pipeline_module, "decide", broken)
    report = pipeline.inspect(b"hello", Envelope("hello.txt", "wetransfer.com"), "nl")
    assert (report.decision, report.reasons[0].rule) == ("block", "internal-error")
    assert report.reasons[0].message == "Detour kon dit bestand niet helemaal controleren."


# --- what the store keeps: decide again, render again -----------------------------------------------


def test_a_recorded_decision_renders_again_in_any_language_as_answered(runtime: Runtime) -> None:
    for name, language in (("customers_q3.csv", "sv"), ("products.csv", "en")):  # a stop, and an allow
        report = runtime.pipeline.inspect((CORPUS / name).read_bytes(), Envelope(name, "wetransfer.com"), "sv")
        runtime.recorder.flush()
        inspection = runtime.store.inspection(report.decision_id)
        assert inspection is not None and inspection.upload.channel is Channel.API
        assert render(inspection, runtime.policy, "sv") == report.model_copy(update={"justified_by": None})
        assert render(inspection, runtime.policy, "nl").language == "nl"
        assert language


def test_a_recorded_decision_decides_again_under_another_policy(runtime: Runtime, tmp_path: Path) -> None:
    """Replay: with a rule that warns about bank account numbers, the same recorded invoice is a warning."""
    invoice = b"Please pay invoice 2026-118 to NL91ABNA0417164300 before Friday.\n"
    report = runtime.pipeline.inspect(invoice, Envelope("invoice.txt", "https://wetransfer.com/x"))
    assert report.decision == "allow"
    runtime.recorder.flush()
    inspection = runtime.store.inspection(report.decision_id)
    assert inspection is not None and inspection.evidence.traced
    assert [d.entity for d in inspection.evidence.detectors] == ["IBAN_CODE"]
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies, ignore=shutil.ignore_patterns("examples", "tests"))
    shutil.copy(POLICIES / "examples" / "warn-bank-accounts.yaml", policies)
    draft = load_policy(policies, runtime.registry.entities | SPECIAL_ENTITIES)
    again = decide(inspection.evidence.scan(), inspection.upload, draft, inspection.decision.id)
    assert again.action == "warn" and again.reasons[0].data_classes == ("bank_account",)
    same = decide(inspection.evidence.scan(), inspection.upload, runtime.policy, inspection.decision.id)
    assert same == inspection.decision  # the recorded evidence decides as the upload did


def test_a_large_decision_decides_again_on_what_was_kept_and_says_so(runtime: Runtime) -> None:
    """More findings than are kept one by one (2,000): deciding again sees the first of them, as an early
    decision does, and the scan it gives back is partial."""
    rows = "\n".join(f"Person {i},p{i}@example.com,+46 70 {i // 10000 % 10}{i % 10000:04d} 11" for i in range(1500))
    report = runtime.pipeline.inspect(("name,email,phone\n" + rows).encode(), Envelope("big.csv", "https://x.example"))
    runtime.recorder.flush()
    inspection = runtime.store.inspection(report.decision_id)
    assert inspection is not None and not inspection.evidence.traced and len(inspection.evidence.trace) == 2000
    again = inspection.evidence.scan()
    assert again.partial and len(again.findings) == 2000
    assert decide(again, inspection.upload, runtime.policy, report.decision_id).action == report.decision


def test_the_deadline_follows_the_uploads_time_limit_unless_set(make_runtime: Callable[..., Runtime]) -> None:
    assert make_runtime(upload_seconds=50.0).pipeline.deadline == 80.0
    assert make_runtime(upload_seconds=50.0, inspect_seconds=7.0).pipeline.deadline == 7.0
