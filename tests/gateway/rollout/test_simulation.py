"""Monitor mode, simulation against history and policy history, on real uploads recorded in a real store.

One runtime records the dev corpus sent to three kinds of destination; a draft is then replayed against those
decisions, and the replay is checked against deciding each recorded decision again, one by one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.http.app import create_app
from gateway.policy.diff import diff
from gateway.policy.engine import decide, decide_failure
from gateway.policy.loader import Policy, load_policy
from gateway.records import Envelope
from gateway.rollout.simulation import simulate
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import admin as store_admin
from gateway.store.admin import Role
from gateway.store.models import DecisionRow, ExemptionRow
from gateway.store.store import DecisionStore
from gateway.store.versions import stored_policy, versions
from tests.conftest import CORPUS, POLICIES, policies_reading_sanctioned
from tests.factories import AppClient

DETOUR = str(Path(sys.executable).parent / "detour")
DESTINATIONS = ("wetransfer.com", "corp-example.sharepoint.com", "never-heard-of.example")
MONITOR_SANCTIONED = """
rules:
  - id: monitor-contact-lists-anywhere
    description: Trying out a stricter rule before enforcing it
    when: {sanctioned: true, data_classes: [contact_data]}
    action: block
    mode: monitor
    reason: {en: "{found}", sv: "{found}", nl: "{found}"}
"""
SOFTER_CONTACTS = ("    when: {sanctioned: false, data_classes: [contact_data]}\n    action: block",
                   "    when: {sanctioned: false, data_classes: [contact_data]}\n    action: warn")


def copy_policies(folder: Path) -> Path:
    shutil.copytree(POLICIES, folder, ignore=shutil.ignore_patterns("examples", "tests"))
    return folder


def draft_of(folder: Path, *, softer: bool = True, monitor: bool = True) -> Path:
    """The policy the history was recorded under (which reads uploads to sanctioned sites too), changed."""
    draft = policies_reading_sanctioned(folder)
    if softer:
        default = draft / "default.yaml"
        text = default.read_text()
        assert SOFTER_CONTACTS[0] in text
        default.write_text(text.replace(*SOFTER_CONTACTS))
    if monitor:
        (draft / "monitor.yaml").write_text(MONITOR_SANCTIONED)
    return draft


@pytest.fixture(scope="module")
def recorded(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A runtime of its own whose store holds the corpus sent to three destinations, by three people."""
    base = tmp_path_factory.mktemp("history")
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": policies_reading_sanctioned(base),
                                                        "data_dir": base / "data"}))
    runtime.reloader.record(runtime.policy, "start-up")
    files = sorted(p for p in CORPUS.iterdir() if p.name != "labels.json")
    for n, path in enumerate(files):
        for destination in DESTINATIONS:
            runtime.pipeline.inspect(path.read_bytes(), Envelope(path.name, destination, user=f"user{n % 3}",
                                                                 group="marketing"), "en")
    assert runtime.recorder.flush()
    yield runtime
    runtime.close()


def _decided_again(store: DecisionStore, draft: Policy) -> tuple[set[str], Counter[str], int]:
    """Every recorded decision decided again under ``draft``, the slow and obvious way: the store's own
    ``inspection`` and ``Evidence.scan``. The references that change, the actions after, how many."""
    with store.session() as session:
        ids = list(session.scalars(select(DecisionRow.id)))
    changed, after = set(), Counter[str]()
    for decision_id in ids:
        inspection = store.inspection(decision_id)
        assert inspection is not None
        before = inspection.decision
        exemptions = (before.exemption,) if before.exemption else ()
        now = (decide_failure(inspection.upload, draft, inspection.failure, decision_id) if inspection.failure
               else decide(inspection.evidence.scan(), inspection.upload, draft, decision_id, exemptions))
        after[now.action.value] += 1
        if (now.action, [r.rule for r in now.reasons], now.would) != \
                (before.action, [r.rule for r in before.reasons], before.would):
            changed.add(decision_id)
    return changed, after, len(ids)


def test_simulation_reports_exactly_the_decisions_a_draft_changes(recorded: Runtime, tmp_path: Path) -> None:
    draft = load_policy(draft_of(tmp_path / "draft"))
    result = simulate(recorded.store, draft, datetime.now(UTC) - timedelta(days=30))
    changed, after, total = _decided_again(recorded.store, draft)
    assert result.replayed == total == (len(list(CORPUS.iterdir())) - 1) * len(DESTINATIONS)
    assert set(result.changed_ids) == changed and result.changed == len(changed) > 0
    assert dict(result.after) == dict(after)
    # the contact lists to unsanctioned sites go from block to warn; those to SharePoint would be blocked
    assert result.transitions["block → warn"] >= 2
    softened = result.transitions["block → warn"]  # the same rule decides them, now warning
    assert result.rules_before["block-contact-lists-external"] == result.rules_after["block-contact-lists-external"] \
        == softened
    assert result.would_after["block"] >= 1 and not result.would_before
    assert result.transitions["warn (would nothing → would block)"] == result.would_after["block"]
    assert all(len(examples) <= 5 for examples in result.examples.values())
    # the same policy as recorded changes nothing
    unchanged = simulate(recorded.store, load_policy(draft_of(tmp_path / "same", softer=False, monitor=False)),
                         datetime.now(UTC) - timedelta(days=30))
    assert unchanged.changed == 0 and unchanged.replayed == total


@pytest.mark.parametrize("change", ["threshold", "detectors"])
def test_a_draft_that_changes_a_data_class_is_replayed_exactly(recorded: Runtime, tmp_path: Path, change: str) -> None:
    """A data class measured alike (a threshold changed) is replayed on its recorded numbers; one measured otherwise
    (its detectors changed) on the kept findings: both as deciding each again."""
    draft = draft_of(tmp_path / "draft", softer=False, monitor=False)
    default = draft / "default.yaml"
    text = default.read_text()
    if change == "threshold":  # contact lists from 61 people: the 60 customers of customers_q3.csv no longer are one
        old, new = "    detectors: [EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS]\n    min_people: 5", \
            "    detectors: [EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS]\n    min_people: 61"
    else:  # phone numbers alone no longer make contact data
        old, new = "    detectors: [EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS]\n", "    detectors: [EMAIL_ADDRESS]\n"
    assert old in text
    default.write_text(text.replace(old, new, 1))
    policy = load_policy(draft)
    result = simulate(recorded.store, policy, datetime.now(UTC) - timedelta(days=30))
    changed, after, total = _decided_again(recorded.store, policy)
    assert set(result.changed_ids) == changed and dict(result.after) == dict(after) and result.replayed == total
    if change == "threshold":
        assert result.changed >= 1


def test_the_period_limits_what_is_replayed(recorded: Runtime, tmp_path: Path) -> None:
    draft = load_policy(draft_of(tmp_path / "draft"))
    assert simulate(recorded.store, draft, datetime.now(UTC) + timedelta(minutes=1)).replayed == 0


def test_policy_simulate_on_the_command_line(recorded: Runtime, tmp_path: Path) -> None:
    draft = draft_of(tmp_path / "draft")
    env = {**os.environ, "DETOUR_DATA_DIR": str(recorded.settings.data_dir),
           "DETOUR_HASH_KEY": recorded.settings.hash_key.get_secret_value() if recorded.settings.hash_key else ""}
    shown = subprocess.run([DETOUR, "policy", "simulate", "--policies", str(draft), "--since", "1d"],
                           capture_output=True, text=True, timeout=300, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "would change" in shown.stdout and "block → warn" in shown.stdout
    assert "monitor-contact-lists-anywhere" in shown.stdout
    as_json = subprocess.run([DETOUR, "policy", "simulate", "--policies", str(draft), "--json"],
                             capture_output=True, text=True, timeout=300, env=env)
    result = json.loads(as_json.stdout)
    expected = simulate(recorded.store, load_policy(draft), datetime.now(UTC) - timedelta(days=30))
    assert result["changed"] == expected.changed and result["replayed"] == expected.replayed
    with recorded.store.session() as session:  # a simulation is no traffic: nothing was recorded
        assert session.query(DecisionRow).count() == expected.replayed


def test_a_monitor_rule_is_recorded_as_would_block_and_the_upload_passes(settings: Settings, tmp_path: Path) -> None:
    folder = copy_policies(tmp_path / "policies")  # the shipped policy, and a rule tried in monitor mode
    (folder / "monitor.yaml").write_text(MONITOR_SANCTIONED)
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": folder, "data_dir": tmp_path / "data"}))
    try:
        contacts = (CORPUS / "customers_q3.csv").read_bytes()
        report = runtime.pipeline.inspect(contacts, Envelope("customers_q3.csv", "corp-example.sharepoint.com"), "en")
        assert report.decision == "allow"  # monitor mode never stops an upload
        assert "monitor" not in json.dumps(report.model_dump(mode="json"))  # nor shows it to staff
        elsewhere = runtime.pipeline.inspect(contacts, Envelope("customers_q3.csv", "wetransfer.com"), "en")
        assert elsewhere.decision == "block"  # the enforced rules still apply
        assert runtime.recorder.flush()
        since = datetime.now(UTC) - timedelta(hours=1)
        found = store_admin.explore(runtime.store, store_admin.DecisionFilter(since=since, would="block"),
                                    evidence=False)
        assert [d["decision_id"] for d in found.decisions] == [report.decision_id]
        assert found.decisions[0]["action"] == "allow" and found.decisions[0]["would"] == "block"
        assert found.decisions[0]["monitored_rules"] == ["monitor-contact-lists-anywhere"]
        every = store_admin.explore(runtime.store, store_admin.DecisionFilter(since=since), evidence=False)
        assert every.counts == {"allow": 1, "block": 1} and every.would == {"block": 1}
        figures = store_admin.figures(runtime.store)
        assert figures["would"] == {"block": 1, "warn": 0}
        assert figures["top_monitored_rules"] == [{"name": "monitor-contact-lists-anywhere", "count": 1}]
        assert sum(d["block"] for d in figures["per_day"]) == 1  # counted apart from real stops
        api = AppClient(create_app(runtime.settings, runtime),
                        {"Authorization": f"Bearer {runtime.admin_tokens.create('monitor-reader', Role.REVIEWER)}"})
        listed = api.get("/v1/admin/decisions", params={"since": "1h", "would": "block"}).json()
        assert listed["would"] == {"block": 1} and listed["counts"] == {"allow": 1}
        exported = list(csv.DictReader(io.StringIO(api.get("/v1/admin/decisions/export",
                                                           params={"since": "1h", "format": "csv"}).text)))
        assert {(row["action"], row["would"], row["monitored_rules"]) for row in exported} == {
            ("allow", "block", "monitor-contact-lists-anywhere"), ("block", "", "")}
        metrics = runtime.recorder.audit.metrics.exposition().decode()
        assert 'detour_monitor_would_total{rule="monitor-contact-lists-anywhere",would="block"} 1.0' in metrics
        assert 'detour_decisions_total{action="allow",channel="api",destination="company"} 1.0' in metrics
        assert 'detour_decisions_total{action="block",channel="api",destination="personal_file_sharing"} 1.0' \
            in metrics
    finally:
        runtime.close()


def test_each_policy_version_is_recorded_and_two_compare(settings: Settings, tmp_path: Path) -> None:
    folder = copy_policies(tmp_path / "policies")
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": folder, "data_dir": tmp_path / "data"}))
    contacts = (CORPUS / "customers_q3.csv").read_bytes()
    try:
        runtime.reloader.start()
        first = runtime.policy.digest
        unread = runtime.pipeline.inspect(contacts, Envelope("customers_q3.csv", "corp-example.sharepoint.com"), "en")
        (folder / "monitor.yaml").write_text(MONITOR_SANCTIONED)
        default = folder / "default.yaml"
        default.write_text(default.read_text().replace(*SOFTER_CONTACTS))
        second = runtime.reloader.reload("test edit").loaded
        report = runtime.pipeline.inspect(b"hello", Envelope("a.txt", "wetransfer.com"), "en")
        assert runtime.recorder.flush()
    finally:
        runtime.close()
    store = DecisionStore(f"sqlite:///{tmp_path / 'data' / 'detour.db'}")
    try:
        listed = versions(store)
        assert [v["digest"] for v in listed] == [second, first]
        assert listed[0]["how"] == "test edit" and listed[1]["how"] == "start-up"
        with store.session() as session:  # every decision names the version that made it
            assert session.get(DecisionRow, report.decision_id).policy_digest == second
        old, new = stored_policy(store, first[:8]), stored_policy(store, second)
        assert old.digest == first and new.digest == second
        changes = diff(old, new)
        assert ("rules", "monitor-contact-lists-anywhere", "added") in {(c.section, c.id, c.what)
                                                                         for c in changes.changes}
        softened = next(c for c in changes.changes if c.id == "block-contact-lists-external")
        assert softened.what == "changed" and softened.fields == ("action: block → warn",)
        assert set(changes.files) == {"default.yaml", "monitor.yaml"}
        assert "-    action: block" in changes.files["default.yaml"]
        # the upload to SharePoint was not read under the first version: a draft that would read it can't be
        # sure what it would have decided, and says so
        replay = simulate(store, new, datetime.now(UTC) - timedelta(hours=1))
        assert replay.replayed == 2 and replay.uncertain == 1 and unread.decision == "allow"
    finally:
        store.close()
    env = {**os.environ, "DETOUR_DATA_DIR": str(tmp_path / "data")}
    shown = subprocess.run([DETOUR, "policy", "diff", first, second], capture_output=True, text=True, timeout=120,
                           env=env)
    assert shown.returncode == 1, shown.stderr  # they differ (like diff(1))
    assert "+ rules monitor-contact-lists-anywhere: added" in shown.stdout
    assert "~ rules block-contact-lists-external: changed" in shown.stdout and "action: block → warn" in shown.stdout
    same = subprocess.run([DETOUR, "policy", "diff", first, str(POLICIES)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert same.returncode == 0 and "are the same policy" in same.stdout


CARDS_ON_SANCTIONED = """
rules:
  - id: block-cards-anywhere
    when: {sanctioned: true, data_classes: [payment_card]}
    action: block
    reason: {en: "{found}", sv: "{found}", nl: "{found}"}
"""


def test_a_draft_that_needs_what_was_not_read_says_it_is_unsure(recorded: Runtime, tmp_path: Path) -> None:
    """Uploads to SharePoint were read for contact data only (all the recording policy acted on there): a draft
    that also blocks cards there can't know from the store whether they held any, and says so."""
    draft = draft_of(tmp_path / "draft", softer=False, monitor=False)
    (draft / "cards.yaml").write_text(CARDS_ON_SANCTIONED)
    result = simulate(recorded.store, load_policy(draft), datetime.now(UTC) - timedelta(days=1))
    sanctioned = len(list(CORPUS.iterdir())) - 1  # one upload of each corpus file to SharePoint
    assert result.uncertain == sanctioned
    same = simulate(recorded.store, load_policy(draft_of(tmp_path / "same", softer=False, monitor=False)),
                    datetime.now(UTC) - timedelta(days=1))
    assert same.uncertain == 0


def test_rules_naming_people_match_senders_whose_names_were_masked(settings: Settings, tmp_path: Path) -> None:
    folder = copy_policies(tmp_path / "policies")
    (folder / "anna.yaml").write_text("""
rules:
  - id: warn-anna-contact-lists
    when: {sanctioned: true, users: [anna.svensson@corp-example.com], data_classes: [contact_data]}
    action: warn
    reason: {en: "{found}", sv: "{found}", nl: "{found}"}
""")
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": folder, "data_dir": tmp_path / "data"}))
    try:
        runtime.reloader.record(runtime.policy, "start-up")
        sent = runtime.pipeline.inspect((CORPUS / "customers_q3.csv").read_bytes(),
                                        Envelope("c.csv", "corp-example.sharepoint.com",
                                                 user="anna.svensson@corp-example.com"), "en")
        assert sent.decision == "warn" and runtime.recorder.flush()
        with runtime.store.session() as session:  # the store keeps the name masked
            assert "*" in (session.get(DecisionRow, sent.decision_id).user or "")
        since = datetime.now(UTC) - timedelta(hours=1)
        assert simulate(runtime.store, runtime.policy, since, who_of=runtime.pipeline.who_of).changed == 0
        blind = simulate(runtime.store, runtime.policy, since)  # without the keyed hash, the rule can't match
        assert blind.transitions == {"warn → allow": 1}
    finally:
        runtime.close()


def test_exceptions_in_force_then_are_offered_to_the_draft(settings: Settings, tmp_path: Path) -> None:
    folder = copy_policies(tmp_path / "policies")
    (folder / "monitor.yaml").write_text(MONITOR_SANCTIONED)  # uploads to SharePoint are read, and pass
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": folder, "data_dir": tmp_path / "data"}))
    try:
        runtime.reloader.record(runtime.policy, "start-up")
        now = datetime.now(UTC)
        with runtime.store.session() as session, session.begin():  # IT let everyone send anything to SharePoint
            session.add(ExemptionRow(created=now - timedelta(days=1), created_by="ida",
                                     destination_host="corp-example.sharepoint.com", user=None, group=None,
                                     data_classes=[], action="allow", expires=now + timedelta(days=1), note="test"))
        sent = runtime.pipeline.inspect((CORPUS / "customers_q3.csv").read_bytes(),
                                        Envelope("c.csv", "corp-example.sharepoint.com"), "en")
        assert sent.decision == "allow" and runtime.recorder.flush()  # allowed by the policy: no exception needed
        draft = copy_policies(tmp_path / "draft")
        (draft / "strict.yaml").write_text(MONITOR_SANCTIONED.replace("    mode: monitor\n", ""))
        result = simulate(runtime.store, load_policy(draft), now - timedelta(hours=1))
        assert dict(result.after) == {"allow": 1}  # the exception in force then would still let it go
        with runtime.store.session() as session, session.begin():
            session.query(ExemptionRow).delete()
        without = simulate(runtime.store, load_policy(draft), now - timedelta(hours=1))
        assert without.transitions == {"allow → block": 1}  # and without it, the draft would block it
    finally:
        runtime.close()


Decided = tuple[str, tuple[str, ...]]  # the action and the rules behind it


def _decided(runtime: Runtime, uploads: list[tuple[bytes, Envelope]]) -> list[Decided]:
    reports = [runtime.pipeline.inspect(blob, envelope, "en") for blob, envelope in uploads]
    return [(r.decision.value, tuple(reason.rule for reason in r.reasons)) for r in reports]


def _live(settings: Settings, folder: Path, data: Path, uploads: list[tuple[bytes, Envelope]]) -> list[Decided]:
    """The decisions a runtime under the policy in ``folder`` makes on ``uploads``, live."""
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": folder, "data_dir": data}))
    try:
        return _decided(runtime, uploads)
    finally:
        runtime.close()


def _corpus_uploads(destination: str, **who: str) -> list[tuple[bytes, Envelope]]:
    return [(path.read_bytes(), Envelope(path.name, destination, **who))
            for path in sorted(CORPUS.iterdir()) if path.name != "labels.json"]


def test_a_draft_that_lowers_the_upload_limit_is_replayed_as_live(settings: Settings, tmp_path: Path) -> None:
    """Checked against deciding the same files live under the draft, not only against the stored findings."""
    uploads = _corpus_uploads("wetransfer.com")
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": copy_policies(tmp_path / "policies"),
                                                        "data_dir": tmp_path / "data"}))
    try:
        runtime.reloader.record(runtime.policy, "start-up")
        then = _decided(runtime, uploads)
        assert runtime.recorder.flush()
        draft = copy_policies(tmp_path / "draft")
        default = draft / "default.yaml"
        default.write_text(default.read_text().replace("  # max_upload_bytes: 104857600", "  max_upload_bytes: 2000"))
        result = simulate(runtime.store, load_policy(draft), datetime.now(UTC) - timedelta(hours=1),
                          max_upload_bytes=runtime.settings.max_upload_bytes)
    finally:
        runtime.close()
    live = _live(settings, draft, tmp_path / "live", uploads)
    expected = sum(a != b for a, b in zip(then, live, strict=True))
    assert expected >= 1 and result.changed == expected
    assert dict(result.after) == dict(Counter(action for action, _ in live))


def test_an_exception_for_a_person_whose_name_was_masked_still_applies(settings: Settings, tmp_path: Path) -> None:
    anna = "anna.svensson@corp-example.com"
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": copy_policies(tmp_path / "policies"),
                                                        "data_dir": tmp_path / "data"}))
    try:
        runtime.reloader.record(runtime.policy, "start-up")
        now = datetime.now(UTC)
        with runtime.store.session() as session, session.begin():  # IT let Anna send to WeTransfer
            session.add(ExemptionRow(created=now - timedelta(days=1), created_by="ida",
                                     destination_host="wetransfer.com", user=anna, group=None, data_classes=[],
                                     action="allow", expires=now + timedelta(days=1), note="test"))
        runtime.exemptions.refresh()
        sent = runtime.pipeline.inspect((CORPUS / "customers_q3.csv").read_bytes(),
                                        Envelope("c.csv", "wetransfer.com", user=anna), "en")
        assert sent.decision == "allow" and runtime.recorder.flush()
        with runtime.store.session() as session:  # neither the sender nor the exception's person is kept raw
            row = session.get(DecisionRow, sent.decision_id)
            assert anna not in json.dumps(row.outcome) and "*" in (row.user or "")
        result = simulate(runtime.store, runtime.policy, now - timedelta(hours=1), who_of=runtime.pipeline.who_of)
        assert result.changed == 0 and dict(result.after) == {"allow": 1}
    finally:
        runtime.close()


def test_decisions_of_an_unknown_policy_version_are_uncertain_when_the_draft_reads(settings: Settings,
                                                                                  tmp_path: Path) -> None:
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": copy_policies(tmp_path / "policies"),
                                                        "data_dir": tmp_path / "data"}))
    try:  # no version recorded: what the uploads were read for is not known
        runtime.pipeline.inspect(b"Refund note for the customer.", Envelope("n.txt", "wetransfer.com"), "en")
        assert runtime.recorder.flush()
        result = simulate(runtime.store, runtime.policy, datetime.now(UTC) - timedelta(hours=1))
        assert result.uncertain == 1
        runtime.reloader.record(runtime.policy, "start-up")
        known = simulate(runtime.store, runtime.policy, datetime.now(UTC) - timedelta(hours=1))
        assert known.uncertain == 0
    finally:
        runtime.close()
