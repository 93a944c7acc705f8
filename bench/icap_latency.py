"""Latency Squid + Detour (ICAP) adds, next to Squid alone, for 100 KB and 5 MB benign uploads.

Starts `detour serve`, a local origin server and two Squids (Debian's package:
one with Detour's ICAP service, one without) on loopback, sends the same
uploads through each, and prints p50 and p99 per size. Printed, never asserted.

    .venv/bin/python bench/icap_latency.py [--runs 40]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the end-to-end services of the test suite: one Detour, Squids, an origin

from tests.services import start_detour, start_origin, start_squid


def benign(size: int) -> bytes:
    rng = random.Random(size)
    words = "lamp desk chair cable screen bottle mug shelf".split()
    rows, total = ["sku,name,price"], 0
    while total < size:
        rows.append(f"P{rng.randint(0, 9_999_999):07d},{rng.choice(words)} {rng.choice(words)},{rng.randint(1, 999)}")
        total += len(rows[-1]) + 1
    return "\n".join(rows).encode()[:size]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(proxy: str, url: str, body: bytes, runs: int) -> tuple[list[float], int]:
    """Times of the PUTs that got their 200, and how many did not (counted, never hidden)."""
    times, errors = [], 0
    with httpx.Client(proxy=proxy, timeout=120) as http:
        http.put(url, content=body)  # warm-up
        for _ in range(runs):
            start = time.perf_counter()
            try:
                response = http.put(url, content=body, headers={"Content-Type": "text/csv"})
            except httpx.TransportError:
                errors += 1
                continue
            if response.status_code != 200:
                errors += 1
                continue
            times.append(time.perf_counter() - start)
    return times, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="detour-bench-"))
    policies = tmp / "policies"
    shutil.copytree(ROOT / "policies", policies)
    with contextlib.ExitStack() as stack:
        origin = stack.enter_context(contextlib.contextmanager(start_origin)())
        detour = stack.enter_context(contextlib.contextmanager(start_detour)(
            tmp, {"DETOUR_POLICIES_DIR": str(policies)}))
        with_icap = stack.enter_context(contextlib.contextmanager(start_squid)(tmp, detour.icap_port, origin.host))
        alone = stack.enter_context(contextlib.contextmanager(start_squid)(tmp, detour.icap_port, origin.host,
                                                                           icap=False))
        print(f"added latency of Detour over ICAP, {args.runs} PUTs per size through Squid 5.7 on loopback")
        for label, size in (("100 KB", 100_000), ("5 MB", 5_000_000)):
            body = benign(size)
            url = f"{origin.url}/files/bench.csv"
            base, base_errors = measure(alone, url, body, args.runs)
            icap, icap_errors = measure(with_icap, url, body, args.runs)
            origin.clear()
            print(f"  {label:>6}  Squid alone p50 {statistics.median(base) * 1000:7.1f} ms  "
                  f"p99 {percentile(base, 0.99) * 1000:7.1f} ms   Squid + Detour p50 "
                  f"{statistics.median(icap) * 1000:7.1f} ms  p99 {percentile(icap, 0.99) * 1000:7.1f} ms   "
                  f"added p50 {(statistics.median(icap) - statistics.median(base)) * 1000:+7.1f} ms   "
                  f"failed PUTs: {base_errors} alone, {icap_errors} with Detour")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
