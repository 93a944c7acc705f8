"""Scan throughput on generated ~10 MB CSVs: benign products, and customer contacts.

Prints MB/s for the whole pipeline (type sniffing, extraction, detection,
decision) and for the scan alone. Numbers are printed, never asserted.

    .venv/bin/python bench/throughput.py [--mb 10]
"""

from __future__ import annotations

import argparse
import random
import resource
import secrets
import time
from pathlib import Path

from gateway.pipeline import Pipeline, UploadRequest
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
WORDS = "alpha beta gamma delta lamp chair table desk cable adapter screen bottle mug shelf".split()
FIRST = "Anna Bram Carla David Eva Frank Greta Hugo Ines Jonas Karin Lars Maja Nils Olga Pieter".split()
LAST = "Berg de Vries Jones Smith Lind Olsen Jansen Svensson Bakker Visser Nilsson Meijer".split()


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
        row = f"{first} {last},{email},{phone},{rng.choice(WORDS).title()} AB"
        rows.append(row)
        size += len(row) + 1
        i += 1
    return ("\n".join(rows) + "\n").encode()


def measure(pipeline: Pipeline, name: str, blob: bytes) -> None:
    mb = len(blob) / 1e6
    start = time.perf_counter()
    scan = pipeline.scanner.scan_upload(blob, name, pipeline.settings.limits())
    scan_s = time.perf_counter() - start
    start = time.perf_counter()
    report = pipeline.inspect(blob, UploadRequest(name, "wetransfer.com"), "en")
    total_s = time.perf_counter() - start
    print(f"{name:<14} {mb:6.1f} MB  scan {mb / scan_s:7.2f} MB/s  pipeline {mb / total_s:7.2f} MB/s  "
          f"findings {len(scan.findings):>7}  decision {report.decision.value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=10.0)
    args = parser.parse_args()
    rng = random.Random(7)
    target = int(args.mb * 1e6)
    pipeline = Pipeline.from_settings(Settings(policies_dir=ROOT / "policies", hash_key=secrets.token_hex(16)))
    measure(pipeline, "products.csv", products_csv(target, rng))
    measure(pipeline, "contacts.csv", contacts_csv(target, rng))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB (one process, both runs)")


if __name__ == "__main__":
    main()
