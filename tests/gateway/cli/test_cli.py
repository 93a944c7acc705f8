"""The `detour` command, run as a real process: decisions, exit codes, JSON Lines, languages."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS, POLICIES

DETOUR = str(Path(sys.executable).parent / "detour")


def detour(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DETOUR, *args], capture_output=True, text=True, timeout=120,
                          input=stdin.decode() if stdin is not None else None)


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


CorpusScan = tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def corpus_scan(corpus_labels: dict[str, dict[str, str]]) -> CorpusScan:
    files = [str(CORPUS / name) for name in sorted(corpus_labels)]
    assert len(files) >= 14
    result = detour("scan", "--format", "json", *files)
    return result, json_lines(result.stdout)


def test_every_corpus_file_gets_its_labelled_decision(
    corpus_scan: CorpusScan,
    corpus_labels: dict[str, dict[str, str]],
) -> None:
    result, reports = corpus_scan
    got = {Path(r["file"]).name: r["decision"] for r in reports}
    expected = {name: label["expect"] for name, label in corpus_labels.items()}
    assert got == expected
    assert result.returncode == 1  # at least one blocked


def test_json_lines_carry_the_documented_fields(
    corpus_scan: CorpusScan,
) -> None:
    _, reports = corpus_scan
    customers = next(r for r in reports if r["file"].endswith("customers_q3.csv"))
    assert customers["decision"] == "block"
    assert customers["decision_id"].startswith("DTR-")
    assert customers["reasons"][0]["rule"] == "block-contact-lists-external"
    assert "60 people" in customers["reasons"][0]["message"]
    email = next(f for f in customers["findings"] if f["type"] == "EMAIL_ADDRESS")
    assert email["count"] == 60 and email["examples"] and all("*" in e for e in email["examples"])
    assert len(customers["alternatives"]) >= 2
    assert [a["id"] for a in customers["alternatives"]][0] == "partner-sharepoint"
    assert customers["alternatives"][-1]["kind"] == "request_review"
    for alternative in customers["alternatives"]:
        assert {"id", "title", "url", "instructions"} <= alternative.keys()
        assert alternative["instructions"]
    helpdesk = customers["helpdesk"]
    assert helpdesk["reference"] == customers["decision_id"]
    assert customers["decision_id"] in helpdesk["message"]
    assert helpdesk["contact"]["email"]
    assert customers["destination"]["sanctioned"] is False


def test_exit_status_zero_when_everything_is_allowed() -> None:
    result = detour("scan", str(CORPUS / "products.csv"), str(CORPUS / "blog_post.txt"))
    assert result.returncode == 0, result.stderr
    assert "ALLOWED" in result.stdout


def test_exit_status_two_for_an_unreadable_file_and_the_rest_still_scanned(tmp_path: Path) -> None:
    result = detour("scan", "--format", "json", str(tmp_path / "missing.csv"), str(CORPUS / "ssn_note.txt"))
    assert result.returncode == 2
    assert "missing.csv: can't read" in result.stderr
    assert json_lines(result.stdout)[0]["decision"] == "block"


def test_exit_status_two_for_an_invalid_policy_naming_file_and_line(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    for name in ("alternatives.yaml", "destinations.yaml", "default.yaml"):
        text = (POLICIES / name).read_text()
        if name == "default.yaml":
            text = text.replace("default_action: allow", "default_action: permit")
        (policies / name).write_text(text)
    result = detour("scan", "--policies", str(policies), str(CORPUS / "products.csv"))
    assert result.returncode == 2
    line = next(i for i, text in enumerate((policies / "default.yaml").read_text().splitlines(), 1) if "permit" in text)
    assert f"default.yaml:{line}: policy.default_action: Input should be 'allow', 'warn' or 'block'" in result.stderr


def test_sanctioned_destination_allows_a_contact_list() -> None:
    result = detour("scan", "--destination", "https://corp-example.sharepoint.com/sites/partners",
                    str(CORPUS / "customers_q3.csv"))
    assert result.returncode == 0
    assert "ALLOWED" in result.stdout


@pytest.mark.parametrize(
    ("lang", "blocked", "sorry", "instead"),
    [("en", "BLOCKED", "Sorry", "What you can do instead"),
     ("sv", "STOPPAD", "Tyvärr", "Det här kan du göra i stället"),
     ("nl", "TEGENGEHOUDEN", "Sorry", "Dit kun je in plaats daarvan doen")],
)
def test_text_answer_for_people_in_each_language(lang: str, blocked: str, sorry: str, instead: str) -> None:
    result = detour("scan", "--lang", lang, "--destination", "wetransfer.com", str(CORPUS / "customers_q3.csv"))
    assert result.returncode == 1
    out = result.stdout
    assert blocked in out and sorry in out and instead in out
    assert "1. " in out and "2. " in out  # ranked routes
    assert "wetransfer.com" in out


def test_a_folder_ends_with_a_summary_and_each_routes_steps_are_printed_once(
        corpus_labels: dict[str, dict[str, str]]) -> None:
    files = [str(CORPUS / name) for name in sorted(corpus_labels)]
    result = detour("scan", *files)
    out = result.stdout
    expected = {verdict: sum(1 for label in corpus_labels.values() if label["expect"] == verdict)
                for verdict in ("block", "allow")}
    assert f"{len(files)} files: {expected['block']} blocked, 0 warnings, {expected['allow']} allowed" in out
    blocked = out.split("\nBlocked:\n", 1)[1]
    assert sorted(line.split(" (DTR-")[0].strip().rsplit("/", 1)[1] for line in blocked.splitlines() if line) == \
        sorted(name for name, label in corpus_labels.items() if label["expect"] == "block")
    step = "Choose Share, enter the consultant's e-mail address and send."  # a step of the partner SharePoint
    assert out.count(step) == 1 and out.count("(the steps are above, under ") >= 3
    assert "EMAIL_ADDRESS" not in out and "e-mail address: " in out  # what was found, named for people
    assert "(55 characters)" in out and "chars)" not in out


def test_brief_prints_a_line_per_file_then_the_summary() -> None:
    files = [str(CORPUS / name) for name in ("customers_q3.csv", "roadmap.docx", "bot.env")]
    result = detour("scan", "--brief", "--lang", "sv", *files)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1
    assert lines[0].startswith("STOPPAD") and "customers_q3.csv" in lines[0] and "60 personer" in lines[0]
    assert lines[1].startswith("TILLÅTEN") and "roadmap.docx" in lines[1]
    assert lines[2].startswith("STOPPAD") and "bot.env" in lines[2]
    assert lines[3] == "3 filer: 2 stoppade, 0 varningar, 1 tillåten"
    assert "Partnerplatsen" not in result.stdout  # no routes in brief


def test_phone_masks_show_the_shape_and_the_last_two_digits() -> None:
    result = detour("scan", "--format", "json", "-", stdin=b"Ring Anna pa +46 70 123 45 67 eller kontoret.\n")
    phones = [f for f in json_lines(result.stdout)[0]["findings"] if f["type"] == "PHONE_NUMBER"]
    assert phones and phones[0]["examples"] == ["+46 ** *** ** 67"] and phones[0]["label"] == "phone number"


def test_json_in_swedish_translates_routes_and_reasons() -> None:
    result = detour("scan", "--format", "json", "--lang", "sv", str(CORPUS / "bot.env"))
    (report,) = json_lines(result.stdout)
    assert report["language"] == "sv"
    assert report["decision"] == "block"
    assert report["alternatives"][0]["title"] == "Dela hemligheten via företagets valv"
    assert report["reasons"][0]["message"].startswith("Filen innehåller")


def test_stdin_and_folders_are_scanned(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "note.txt").write_text("SSN 536-22-1234\n")
    (tmp_path / "ok.txt").write_text("nothing here\n")
    result = detour("scan", "--format", "json", str(tmp_path))
    assert sorted(r["decision"] for r in json_lines(result.stdout)) == ["allow", "block"]
    piped = detour("scan", "--format", "json", "-", stdin=b"Card 4111 1111 1111 1111\n")
    assert json_lines(piped.stdout)[0]["file"] == "stdin" and piped.returncode == 1


def test_policy_check_and_policy_test_pass_on_the_bundled_policy() -> None:
    check = detour("policy", "check", "--strict")
    assert check.returncode == 0 and "valid" in check.stdout and "0 warnings" in check.stdout, check.stdout
    test = detour("policy", "test")
    assert test.returncode == 0, test.stdout
    assert "FAIL" not in test.stdout and " 0 failed" in test.stdout


def test_policy_test_reports_a_failing_case(tmp_path: Path) -> None:
    (tmp_path / "x_test.yaml").write_text(
        "cases:\n  - name: wrong on purpose\n    destination: wetransfer.com\n"
        "    content: \"Card 4111 1111 1111 1111\"\n    expect: allow\n")
    result = detour("policy", "test", str(tmp_path))
    assert result.returncode == 2
    assert "FAIL x_test.yaml: wrong on purpose" in result.stdout
    assert "expected allow, got block (block-payment-cards-external)" in result.stdout


def test_policy_test_with_no_cases_fails(tmp_path: Path) -> None:
    result = detour("policy", "test", str(tmp_path))
    assert result.returncode == 2 and "no policy tests found" in result.stderr


def test_policy_schema_is_json_schema() -> None:
    result = detour("policy", "schema")
    schema = json.loads(result.stdout)
    assert schema["title"] == "Detour policy"
    assert {"rules", "data_classes", "destinations", "alternatives", "helpdesk"} <= schema["properties"].keys()


def test_a_log_message_is_always_one_line() -> None:
    import logging

    from gateway.cli.common import OneLine

    record = logging.LogRecord("gateway", logging.INFO, __file__, 1, "file %s stopped", ("a\nINFO detour.audit: {}",),
                               None)
    assert OneLine().filter(record)
    assert record.getMessage() == "file a\\nINFO detour.audit: {} stopped"


def test_a_scan_leaves_the_store_alone_unless_asked_to_record(tmp_path: Path) -> None:
    """A scan or a test run is no traffic: the console and its figures read the store."""
    detour = str(Path(sys.executable).parent / "detour")
    environment = {**os.environ, "DETOUR_DATA_DIR": str(tmp_path / "data")}
    notes = tmp_path / "notes.txt"
    notes.write_text("Agenda for Tuesday.\n")

    def stored() -> int:
        with sqlite3.connect(tmp_path / "data" / "detour.db") as connection:
            count: int = connection.execute("SELECT count(*) FROM decisions").fetchone()[0]
            return count

    for command in (["scan", str(notes)], ["eval", str(tmp_path)]):
        subprocess.run([detour, *command], env=environment, capture_output=True, timeout=120, check=False)
    assert stored() == 0
    done = subprocess.run([detour, "scan", str(notes), "--record"], env=environment, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert stored() == 1
