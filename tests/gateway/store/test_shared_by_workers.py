"""What the worker processes of one `detour serve` share: the development hash key (one per data folder), the
spools (each worker's own; another's read for a page, those of a larger worker count taken over), and the
metrics' bounded labels."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from prometheus_client import Counter

from gateway.errors import ConfigurationError
from gateway.records import Envelope
from gateway.runtime import Runtime, spool_path
from gateway.settings import HASH_KEY_FILE, Settings
from gateway.store import spool
from gateway.store.metrics import Metrics, size_class, unscannable_reason
from tests.conftest import CORPUS
from tests.gateway.store.test_recorder import locked

CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()


def test_the_development_key_is_made_once_per_data_folder_for_the_service_alone(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).hash_key_bytes()
    assert Settings(data_dir=tmp_path).hash_key_bytes() == first  # another worker, a restart: the same key
    assert Settings(data_dir=tmp_path.parent / f"{tmp_path.name}-other").hash_key_bytes() != first
    key_file = tmp_path / HASH_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(first) == 32
    assert [p.name for p in tmp_path.iterdir()] == [HASH_KEY_FILE]  # no temporary file left behind
    set_key = "k" * 32
    assert Settings(data_dir=tmp_path, hash_key=set_key).hash_key_bytes() == set_key.encode()


def test_a_key_file_that_cannot_be_made_or_read_is_an_error_not_a_key_per_process(tmp_path: Path) -> None:
    """Workers and restarts must hash alike: a process never makes up a key of its own."""
    blocked = tmp_path / "a-file"  # a data "folder" that is a file: nothing can be written or read in it
    blocked.write_text("")
    with pytest.raises(ConfigurationError, match="hash key|can't be written"):
        Settings(data_dir=blocked).hash_key_bytes()
    for damaged in ("", "not hex at all", "abcd"):
        folder = tmp_path / f"damaged-{len(damaged)}"
        folder.mkdir()
        (folder / HASH_KEY_FILE).write_text(damaged)
        with pytest.raises(ConfigurationError, match="(?i)restore it, or remove it"):
            Settings(data_dir=folder).hash_key_bytes()
    with pytest.raises(ValueError, match="16\\+ characters"):
        Settings(data_dir=tmp_path, hash_key="too-short")  # set but unusable: said, not replaced


def test_each_worker_spools_apart_and_pages_find_another_workers(settings: Settings, tmp_path: Path) -> None:
    changed = settings.model_copy(update={"data_dir": tmp_path})
    assert spool_path(changed, 0).name == "decisions.jsonl" and spool_path(changed, 3).name == "decisions-3.jsonl"
    zero, one = Runtime.build(changed, 0), Runtime.build(changed, 1)
    try:
        with locked(tmp_path / "detour.db"):  # the store can't be written: worker 1 spools what it decides
            report = one.pipeline.inspect(CONTACTS, Envelope("c.csv", "wetransfer.com"))
            assert one.recorder.flush() and len(one.recorder.spool) == 1
            assert one.recorder.spool.path == spool_path(changed, 1)
            found = zero.find(report.decision_id)  # the page asked of worker 0
            assert found is not None and found.recording and found.report.decision == "block"
        assert zero.find("DTR-0000-0000-0000-0000") is None and zero.find("../../etc/passwd") is None
    finally:
        zero.close()
        one.close()


def test_spools_of_a_larger_worker_count_are_taken_over_before_the_workers_start(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir()
    keep = folder / "decisions.jsonl"
    keep.write_text('{"id":"a"}\n')  # as spools are written: compact JSON lines
    (folder / "decisions-1.jsonl").write_text('{"id":"b"}\n')  # worker 1 of 2: still runs
    (folder / "decisions-2.jsonl").write_text('{"id":"c"}\n{"id":"d"}\n')  # worker 2 of an earlier 3
    (folder / "decisions-x.jsonl").write_text('{"id":"e"}\n')  # not a spool of ours: left alone
    assert spool.adopt(folder, keep, workers=2) == 2
    assert [json.loads(line)["id"] for line in keep.read_text().splitlines()] == ["a", "c", "d"]
    assert sorted(p.name for p in folder.iterdir()) == ["decisions-1.jsonl", "decisions-x.jsonl", "decisions.jsonl"]
    assert spool.find_in(folder / "decisions-1.jsonl", "b") == {"id": "b"}
    assert spool.find_in(folder / "missing.jsonl", "b") is None


def test_metric_labels_are_bounded_sets() -> None:
    assert [size_class(n) for n in (0, 100_000, 100_001, 10_000_000, 10_000_001)] == \
        ["le_100k", "le_100k", "le_1m", "le_10m", "over_10m"]
    notes = {"q3.xlsx is password-protected, so it can't be checked": "encrypted",
             "files of type application/x-foo can't be read by Detour, so it can't be checked": "unknown_type",
             "the file is larger than the limit of 1,000 bytes, so it can't be checked": "too_large",
             "scan.pdf could not be read (it may be damaged), so it can't be checked": "damaged",
             "big.docx needs more memory than allowed to read, so it can't be checked": "memory",
             "anything else": "other"}
    assert {note: unscannable_reason(note) for note in notes} == notes


def test_running_totals_become_counters_and_the_policy_in_force_is_one() -> None:
    metrics = Metrics()
    metrics.total(metrics.siem_sent, 3, "udp://siem:514")
    metrics.total(metrics.siem_sent, 5, "udp://siem:514")
    metrics.total(metrics.siem_sent, 2, "udp://siem:514")  # the sender was made again: no negative step
    metrics.policy_in_force("aaaa", "1")
    metrics.policy_in_force("bbbb", "2")
    text = metrics.exposition().decode()
    assert 'detour_siem_events_sent_total{target="udp://siem:514"} 5.0' in text
    assert 'detour_policy_loaded{digest="aaaa",version="1"} 0.0' in text
    assert 'detour_policy_loaded{digest="bbbb",version="2"} 1.0' in text
    assert isinstance(metrics.siem_sent, Counter)
