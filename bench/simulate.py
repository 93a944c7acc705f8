"""Simulation against history: a week of recorded decisions replayed against a draft policy.

A real SQLite store is filled with ``--decisions`` decisions (default 100,000) spread over the last 7 days:
each is a copy of a real decision (the dev corpus sent to three kinds of destination and decided by the
pipeline), under a new reference, sender and time. Then ``detour policy simulate``'s replay
(``gateway.rollout.simulation.simulate``) runs a draft against them, and next to it the obvious way of
deciding each again (the store's ``inspection`` per decision, then ``decide``) on a sample, scaled.

Numbers are printed, never asserted.

    .venv/bin/python bench/simulate.py [--decisions 100000]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from gateway.policy.engine import decide, decide_failure  # noqa: E402
from gateway.policy.loader import Policy, load_policy  # noqa: E402
from gateway.records import Envelope  # noqa: E402
from gateway.rollout.simulation import simulate  # noqa: E402
from gateway.runtime import Runtime  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.store.models import DecisionRow  # noqa: E402
from gateway.store.store import DecisionStore, row_of  # noqa: E402
from gateway.store.versions import record_version  # noqa: E402
from tests.conftest import CORPUS, policies_reading_sanctioned  # noqa: E402

DESTINATIONS = ("wetransfer.com", "corp-example.sharepoint.com", "never-heard-of.example", "dropbox.com")
TARGET_SECONDS = 10.0
DRAFT_RULE = """
rules:
  - id: monitor-contact-lists-anywhere
    when: {sanctioned: true, data_classes: [contact_data]}
    action: block
    mode: monitor
    reason: {en: "{found}", sv: "{found}", nl: "{found}"}
"""


def real_rows(folder: Path) -> tuple[list[dict[str, Any]], Policy]:
    """The dev corpus to each destination, decided by the pipeline: rows as the store keeps them, and the
    policy that decided them."""
    settings = Settings(policies_dir=policies_reading_sanctioned(folder / "recorded"), hash_key=secrets.token_hex(16),
                        data_dir=folder / "scratch")
    runtime = Runtime.build(settings)
    rows = []
    try:
        for path in sorted(p for p in CORPUS.iterdir() if p.name != "labels.json"):
            for destination in DESTINATIONS:
                report = runtime.pipeline.inspect(path.read_bytes(), Envelope(path.name, destination), "en")
                assert runtime.recorder.flush()
                inspection = runtime.store.inspection(report.decision_id)
                assert inspection is not None
                rows.append(row_of(inspection, report))
        policy = runtime.policy
    finally:
        runtime.close()
    return rows, policy


def fill(store: DecisionStore, rows: list[dict[str, Any]], count: int) -> None:
    now = datetime.now(UTC)
    batch = []
    for n in range(count):
        row = dict(rows[n % len(rows)])
        row["id"] = f"DTR-B{n:09d}"
        row["created"] = (now - timedelta(seconds=(n * 7 * 86400) // count)).isoformat()
        row["user"] = f"user{n % 500}"
        row["group"] = ("marketing", "sales", "finance", "payroll")[n % 4]
        row["translations"] = None
        batch.append(row)
        if len(batch) == 5000:
            store.insert(batch)
            batch = []
    if batch:
        store.insert(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2_000, help="decisions decided again the obvious way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        rows, recorded = real_rows(folder)
        store = DecisionStore(f"sqlite:///{folder / 'history.db'}")
        record_version(store, recorded, "bench")  # as `detour serve` does: the policy history
        started = time.perf_counter()
        fill(store, rows, args.decisions)
        print(f"store: {args.decisions:,} decisions over 7 days (copies of {len(rows)} real ones) written in "
              f"{time.perf_counter() - started:.1f} s")
        draft_folder = policies_reading_sanctioned(folder / "draft")
        default = draft_folder / "default.yaml"
        default.write_text(default.read_text().replace(
            "    when: {sanctioned: false, data_classes: [contact_data]}\n    action: block",
            "    when: {sanctioned: false, data_classes: [contact_data]}\n    action: warn"))
        (draft_folder / "monitor.yaml").write_text(DRAFT_RULE)
        draft = load_policy(draft_folder)
        since = datetime.now(UTC) - timedelta(days=8)

        started = time.perf_counter()
        result = simulate(store, draft, since)
        seconds = time.perf_counter() - started
        rate = result.replayed / seconds
        print(f"detour policy simulate  {result.replayed:,} decisions in {seconds:.2f} s  {rate:,.0f} decisions/s  "
              f"target < {TARGET_SECONDS:.0f} s for 100,000  ({result.changed:,} change)")

        # drafts that change a data class: a threshold (the recorded numbers are reused), or its detectors (the
        # kept findings are read and measured again)
        for label, old, replacement in (
                ("a data class's threshold changed (numbers reused)",
                 "    detectors: [EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS]\n    min_people: 5",
                 "    detectors: [EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS]\n    min_people: 61"),
                ("a data class's detectors changed (findings read again)",
                 "    detectors: [EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS]", "    detectors: [EMAIL_ADDRESS]")):
            changed = policies_reading_sanctioned(folder / label.split()[3])
            default = changed / "default.yaml"
            text = default.read_text()
            assert old in text, old
            default.write_text(text.replace(old, replacement, 1))
            started = time.perf_counter()
            measured = simulate(store, load_policy(changed), since)
            seconds = time.perf_counter() - started
            print(f"  {label}  {seconds:.2f} s  {measured.replayed / seconds:,.0f} decisions/s  "
                  f"({measured.changed:,} change)")

        with store.session() as session:
            ids = list(session.scalars(select(DecisionRow.id).limit(args.sample)))
        started = time.perf_counter()
        for decision_id in ids:
            inspection = store.inspection(decision_id)
            assert inspection is not None
            if inspection.failure:
                decide_failure(inspection.upload, draft, inspection.failure, decision_id)
            else:
                decide(inspection.evidence.scan(), inspection.upload, draft, decision_id)
        obvious = (time.perf_counter() - started) / len(ids)
        print(f"peer: one by one (store.inspection + decide)  {1 / obvious:,.0f} decisions/s  "
              f"≈ {obvious * result.replayed:.1f} s for {result.replayed:,}  "
              f"(replay is {obvious * rate:.1f} x faster)")
        store.close()


if __name__ == "__main__":
    main()
