"""`detour eval`: the accuracy harness on the dev corpus and on corpora made here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPUS

DETOUR = str(Path(sys.executable).parent / "detour")


def run_eval(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DETOUR, "eval", str(folder)], capture_output=True, text=True, timeout=300)


def test_dev_corpus_is_fully_right(corpus_labels: dict[str, dict[str, str]]) -> None:
    result = run_eval(CORPUS)
    assert result.returncode == 0, result.stdout + result.stderr
    total = len(corpus_labels)
    assert f"{total}/{total} files get their labelled decision" in result.stdout
    assert "recall on block files:      100.0%" in result.stdout
    assert "false-block rate on allow:    0.0%" in result.stdout
    assert "MISMATCH" not in result.stdout


def test_mismatches_are_listed_with_their_reasons(tmp_path: Path) -> None:
    (tmp_path / "cards.txt").write_text("Card 4111 1111 1111 1111\n")
    (tmp_path / "note.txt").write_text("Lunch at noon.\n")
    (tmp_path / "labels.json").write_text(json.dumps({
        "cards.txt": {"expect": "allow", "why": "labelled wrong on purpose"},
        "note.txt": {"expect": "block", "why": "labelled wrong on purpose"},
    }))
    result = run_eval(tmp_path)
    assert result.returncode == 1
    assert "0/2 files get their labelled decision" in result.stdout
    assert "recall on block files:        0.0%" in result.stdout
    assert "false-block rate on allow:  100.0%" in result.stdout
    assert "MISMATCH cards.txt: expected allow (labelled wrong on purpose), got block" in result.stdout
    assert "block-payment-cards-external" in result.stdout and "CREDIT_CARD ×1" in result.stdout
    assert "4111" not in result.stdout  # never the raw value, even for IT


def test_broken_labels_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text('{"a.txt": {"expect": "maybe"}}')
    result = run_eval(tmp_path)
    assert result.returncode == 2 and "'expect' must be one of block, allow" in result.stderr
