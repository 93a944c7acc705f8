"""Detour next to its peers, measured in the same run on one core: speed and decisions.

Peers: Presidio's default ``AnalyzerEngine`` (spaCy's small English model;
Detour's own dependency, in a process of its own: bench/presidio_worker.py) and
DataFog (``datafog`` on PyPI, its Python regex engine, and its Rust backend
``datafog-core``) in ``.venv-bench``, a virtualenv of the bench's own (made by
``make install`` from requirements-bench.lock): never a Detour dependency.

(a) MB/s on a generated benign product CSV and a customer contact CSV. Detour
    scans the whole file (10 MB); a peer that is much slower is timed on the
    first part of the same file (its size is printed), as text. Target: Detour
    at least 5 x the fastest peer on both files.
(b) Decisions on the dev corpus: every engine's findings go through the same
    extraction, masking, people counting and default policy as Detour's (an
    unsanctioned destination); a peer's entity names are mapped to Detour's.

Numbers are printed, never asserted.

    .venv/bin/python bench/peers.py [--mb 10] [--corpus ../shared/corpus/files]
"""

from __future__ import annotations

import argparse
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.detection import SPACY_MODEL, contacts_csv, print_scores, products_csv, scored  # noqa: E402
from detectors.limits import MB  # noqa: E402
from detectors.recognizers.ner import model_directory  # noqa: E402
from detectors.scan import scan_blob  # noqa: E402
from gateway.allocator import MMAP_THRESHOLD  # noqa: E402
from gateway.pipeline import Pipeline  # noqa: E402
from gateway.records import Envelope  # noqa: E402
from gateway.runtime import Runtime  # noqa: E402
from gateway.settings import Settings  # noqa: E402

BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
DATAFOG_ENTITIES = {"EMAIL": "EMAIL_ADDRESS", "PHONE": "PHONE_NUMBER", "CREDIT_CARD": "CREDIT_CARD", "SSN": "US_SSN"}
# How much of a file a peer is timed on, at most (a slow engine on 10 MB would take minutes or hours).
SAMPLE_BYTES = {"Presidio default": 100_000, "DataFog (Python)": 200_000, "DataFog (Rust)": 10_000_000}

Answers = list[dict[str, Any]]
Engine = Callable[..., Answers]  # (texts, runs=1) -> an answer per text

# the peers' processes keep freed memory as Detour's do (gateway.allocator, DETOUR_HEAP_KEEP_MB): the same
# allocator for every engine measured
PEER_ENV = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
            "MALLOC_TRIM_THRESHOLD_": str(Settings().heap_keep_mb * MB)}


def presidio(texts: list[str], runs: int = 1) -> Answers:
    worker = Path(__file__).with_name("presidio_worker.py")
    done = subprocess.run([sys.executable, str(worker), model_directory(SPACY_MODEL), str(runs)],
                          input=json.dumps(texts), capture_output=True, text=True, check=True, env=PEER_ENV)
    answers: Answers = json.loads(done.stdout)
    return answers


def datafog(engine: str) -> Engine:
    def run(texts: list[str], runs: int = 1) -> Answers:
        worker = Path(__file__).with_name("datafog_worker.py")
        request = {"engine": engine, "texts": texts, "runs": runs}
        done = subprocess.run([str(BENCH_PYTHON), str(worker)], input=json.dumps(request),
                              capture_output=True, text=True, check=True, env=PEER_ENV)
        answers: Answers = json.loads(done.stdout)
        for answer in answers:  # DataFog's names as Detour's (what has no counterpart is not policy data)
            answer["results"] = [[start, end, DATAFOG_ENTITIES[kind], 1.0] for start, end, kind in answer["results"]
                                 if kind in DATAFOG_ENTITIES]
        return answers
    return run


def engines() -> dict[str, Engine]:
    found: dict[str, Engine] = {"Presidio default": presidio}
    if BENCH_PYTHON.exists():
        found["DataFog (Python)"] = datafog("python")
        found["DataFog (Rust)"] = datafog("rust")
    else:
        print(f"  DataFog: {BENCH_PYTHON} is missing; `make install` makes it from requirements-bench.lock")
    return found


def speed(pipeline: Pipeline, mb: float) -> None:
    rng = random.Random(9)
    files = {"products.csv": products_csv(int(mb * 1e6), rng), "contacts.csv": contacts_csv(int(mb * 1e6), rng)}
    peers = engines()
    print("(a) MB/s on one core, each the best of 3 (Detour: the whole file; a peer: the first part, as text)")
    for name, blob in files.items():
        scan_blob(pipeline.scanner, blob[:100_000], name, pipeline.limits)  # first-call costs
        seconds = min(_timed(scan_blob, pipeline.scanner, blob, name, pipeline.limits) for _ in range(3))
        detour = len(blob) / 1e6 / seconds
        print(f"  {name:<13} Detour            {detour:9.1f} MB/s  ({len(blob) / 1e6:.1f} MB)")
        envelope = Envelope(name, "wetransfer.com")
        decided = min(_timed(pipeline.inspect, blob, envelope, "en") for _ in range(3))
        print(f"  {'':<13} Detour, deciding  {len(blob) / 1e6 / decided:9.1f} MB/s  (the pipeline under the default "
              f"policy, to an unsanctioned site: {pipeline.inspect(blob, envelope, 'en').decision.value}; it reads "
              "only until the decision is certain)")
        fastest = 0.0
        for peer, run in peers.items():
            sample = blob[:SAMPLE_BYTES[peer]]
            sample = sample[: sample.rfind(b"\n") + 1].decode()
            [answer] = run([sample], 3)
            rate = len(sample) / 1e6 / answer["seconds"]
            fastest = max(fastest, rate)
            print(f"  {'':<13} {peer:<17} {rate:9.2f} MB/s  ({len(sample) / 1e6:.1f} MB, "
                  f"{len(answer['results'])} results)")
        if fastest:
            print(f"  {'':<13} Detour / fastest peer = {detour / fastest:6.1f} x   target >= 5 x")


def decisions(pipeline: Pipeline, corpus: Path) -> None:
    misses, total = scored(pipeline, corpus, engines())
    print(f"(b) decisions on the dev corpus ({corpus}): default policy, unsanctioned destination, every engine's")
    print("    findings through the same extraction, masking, people counting and policy")
    print_scores(misses, total)


def _timed(action: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    action(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "files")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core (the workers inherit it)
    settings = Settings(policies_dir=ROOT / "policies", hash_key=SecretStr(secrets.token_hex(16)))
    with tempfile.TemporaryDirectory() as workdir:
        runtime = Runtime.build(settings.model_copy(update={"data_dir": Path(workdir)}))
        try:
            speed(runtime.pipeline, args.mb)
            if (args.corpus / "labels.json").is_file():
                decisions(runtime.pipeline, args.corpus)
            else:
                print(f"(b) skipped: no labels.json in {args.corpus}")
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
