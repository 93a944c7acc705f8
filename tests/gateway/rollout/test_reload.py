"""Live policy reload: a valid edit is swapped in for the next upload, an invalid one is reported (file, line)
and the running policy stays; fixing it recovers. The watch sees edits by itself."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from gateway.records import Envelope
from gateway.rollout.reload import POLL_SECONDS
from gateway.runtime import Runtime
from gateway.settings import Settings
from tests.conftest import CORPUS, POLICIES

CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()
SHAREPOINT = Envelope("customers_q3.csv", "corp-example.sharepoint.com")
WARN_THERE = ("rules:\n  - id: warn-contact-lists-anywhere\n"
              "    when: {sanctioned: true, data_classes: [contact_data]}\n"
              "    action: warn\n    reason: {en: '{found}', sv: '{found}', nl: '{found}'}\n")


def runtime_on_copy(settings: Settings, tmp_path: Path) -> tuple[Runtime, Path]:
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder, ignore=shutil.ignore_patterns("examples", "tests"))
    return Runtime.build(settings.model_copy(update={"policies_dir": folder, "data_dir": tmp_path / "data"})), folder


def test_a_valid_edit_is_swapped_in_and_an_invalid_one_keeps_the_running_policy(settings: Settings,
                                                                               tmp_path: Path) -> None:
    runtime, folder = runtime_on_copy(settings, tmp_path)
    try:
        first = runtime.policy.digest
        assert runtime.pipeline.inspect(CONTACTS, SHAREPOINT, "en").decision == "allow"
        (folder / "warn-sanctioned.yaml").write_text(WARN_THERE)
        state = runtime.reloader.reload("test")
        assert state.error is None and state.loaded != first and state.loaded == state.on_disk
        assert runtime.pipeline.inspect(CONTACTS, SHAREPOINT, "en").decision == "warn"

        (folder / "broken.yaml").write_text("rules:\n  - id: x\n    action: explode\n")
        broken = runtime.reloader.reload("test")
        assert broken.loaded == state.loaded and broken.on_disk != broken.loaded
        assert broken.error is not None and "broken.yaml" in broken.error and "action" in broken.error
        assert runtime.pipeline.inspect(CONTACTS, SHAREPOINT, "en").decision == "warn"  # unchanged

        (folder / "broken.yaml").unlink()
        fixed = runtime.reloader.reload("test")
        assert fixed.error is None and fixed.loaded == state.loaded == fixed.on_disk
    finally:
        runtime.close()


def test_the_watch_sees_an_edit_by_itself(settings: Settings, tmp_path: Path) -> None:
    runtime, folder = runtime_on_copy(settings, tmp_path)
    try:
        runtime.reloader.start()
        before = runtime.policy.digest
        (folder / "warn-sanctioned.yaml").write_text(WARN_THERE)
        deadline = time.monotonic() + 10 * POLL_SECONDS
        while runtime.policy.digest == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert runtime.policy.digest != before
        assert runtime.reloader.state().how == "the folder changed"
    finally:
        runtime.close()
