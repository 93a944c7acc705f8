"""bench/detection.py runs end to end (small sizes) and reports accuracy; timings are printed, never asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPUS

ROOT = Path(__file__).resolve().parent.parent


def test_detection_bench_runs_and_detour_is_at_least_as_accurate_as_presidio(
        corpus_labels: dict[str, dict[str, str]]) -> None:
    done = subprocess.run([sys.executable, "bench/detection.py", "--mb", "0.2", "--corpus", str(CORPUS)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for heading in ("(a) full-scan throughput", "(b) the same 100 KB business document", "(c) accuracy"):
        assert heading in out
    assert re.search(r"products\.csv .* scan +[\d.]+ MB/s", out)
    assert re.search(r"Detour is [\d,]+ x faster", out)
    detour = re.search(r"Detour +(\d+)/(\d+)", out)
    presidio = re.search(r"Presidio default +(\d+)/(\d+)", out)
    assert detour and presidio, out
    assert detour.group(1) == detour.group(2) == str(len(corpus_labels))
    assert int(detour.group(1)) >= int(presidio.group(1))


def test_upload_path_bench_runs_and_prints_each_target() -> None:
    done = subprocess.run([sys.executable, "bench/upload_path.py", "--mb", "0.3", "--runs", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"\(7\) contact CSV to a sanctioned site.* [\d.]+ s +target <= 0\.2 s", out), out
    assert re.search(r"POST /v1/inspect multipart +[\d.]+ MB/s +target >= 150 MB/s", out), out
    assert re.search(r"POST /v1/inspect raw body +[\d.]+ MB/s", out), out
    assert re.search(r"100 KB business document.* [\d.]+ ms +target <= 10 ms", out), out
    assert re.search(r"\(7\) contact CSV, full scan.* [\d.]+ MB/s +target >= 50 MB/s", out), out


def test_peers_bench_runs_and_prints_every_engine_next_to_detour(corpus_labels: dict[str, dict[str, str]]) -> None:
    """DataFog runs from .venv-bench (made by `make install`); the bench names each engine and Detour's ratio."""
    assert (ROOT / ".venv-bench" / "bin" / "python").exists(), "`make install` makes .venv-bench for bench/peers.py"
    done = subprocess.run([sys.executable, "bench/peers.py", "--mb", "0.1", "--corpus", str(CORPUS)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for name in ("products.csv", "contacts.csv"):
        assert re.search(rf"{name} +Detour +[\d.]+ MB/s", out), out
    for peer in ("Presidio default", "DataFog \\(Python\\)", "DataFog \\(Rust\\)"):
        assert len(re.findall(rf"{peer} +[\d.]+ MB/s", out)) == 2, out
    assert len(re.findall(r"Detour / fastest peer = +[\d.]+ x +target >= 5 x", out)) == 2, out
    scores = {who: int(got) for who, got in re.findall(r"^  (Detour|Presidio default|DataFog \(\w+\)) +(\d+)/\d+",
                                                          out, re.MULTILINE)}
    assert scores["Detour"] == len(corpus_labels), out
    assert all(scores["Detour"] >= score for score in scores.values()), out


def test_simulate_bench_runs_and_prints_the_replay_rate() -> None:
    done = subprocess.run([sys.executable, "bench/simulate.py", "--decisions", "3000", "--sample", "200"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    rate = r"detour policy simulate +3,000 decisions in [\d.]+ s +[\d,]+ decisions/s +target < 10 s"
    assert re.search(rate, out), out
    assert re.search(r"threshold changed .* [\d,]+ decisions/s", out), out
    assert re.search(r"detectors changed .* [\d,]+ decisions/s", out), out
    assert re.search(r"peer: one by one .* [\d,]+ decisions/s", out), out
