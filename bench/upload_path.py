"""The upload path, end to end: what staff wait for, on one core, next to the scan alone.

A real `detour serve` on loopback, pinned to one core (the client runs on the
other), answers POST /v1/inspect; every figure is the median of several runs
after a warm-up, and each is printed next to its target:

- a 10 MB customer contact CSV to the company's own SharePoint (sanctioned: the
  shipped policy lets anything go there, so nothing needs to be read), multipart;
- the same file fully scanned in-process (every value found and counted), and
  decided in-process under a policy that warns about contact data on sanctioned
  sites too (the scan stops once the warning is certain);
- a 10 MB benign product CSV through POST /v1/inspect, multipart and raw body,
  and the in-process scan of it;
- a 100 KB business document (prose with contact lines, a card, an IBAN) through
  POST /v1/inspect: the time to the decision, p50.

Numbers are printed, never asserted.

    .venv/bin/python bench/upload_path.py [--mb 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.detection import business_document, contacts_csv, products_csv  # noqa: E402
from detectors.scan import scan_blob  # noqa: E402
from gateway.records import Envelope  # noqa: E402
from gateway.runtime import Runtime  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from tests.conftest import policies_reading_sanctioned  # noqa: E402
from tests.services import start_detour  # noqa: E402

SANCTIONED = "https://corp-example.sharepoint.com/sites/partners"
UNSANCTIONED = "https://wetransfer.com/upload"


def median_seconds(runs: int, action: Callable[[], object]) -> float:
    action()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def line(label: str, value: str, target: str) -> None:
    print(f"  {label:<58} {value:>14}   target {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(13)
    contacts = contacts_csv(int(args.mb * 1e6), rng)
    products = products_csv(int(args.mb * 1e6), rng)
    document = business_document(100_000, rng).encode()
    mb = len(products) / 1e6
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    tmp = Path(tempfile.mkdtemp(prefix="detour-upload-path-"))
    try:
        with contextlib.ExitStack() as stack:
            policies = tmp / "policies"
            shutil.copytree(ROOT / "policies", policies)
            detour = stack.enter_context(contextlib.contextmanager(start_detour)(
                tmp, {"DETOUR_POLICIES_DIR": str(policies), "DETOUR_LOG_LEVEL": "WARNING"}))
            server_pid = _server_pid(detour.http)
            if len(cores) >= 2 and server_pid:
                os.sched_setaffinity(server_pid, {cores[0]})  # the server on one core,
                os.sched_setaffinity(0, {cores[1]})  # the client on the other
            client = stack.enter_context(httpx.Client(base_url=detour.http, headers=detour.auth, timeout=300))

            def multipart(blob: bytes, destination: str, name: str) -> Callable[[], object]:
                return lambda: _ok(client.post("/v1/inspect", files={"file": (name, blob)},
                                               data={"destination": destination}))

            def raw(blob: bytes, destination: str, name: str) -> Callable[[], object]:
                return lambda: _ok(client.post("/v1/inspect", content=blob,
                                               params={"destination": destination, "filename": name}))

            print(f"upload path: `detour serve` on one core{' (pinned)' if server_pid and len(cores) >= 2 else ''}"
                  f", {mb:.1f} MB files, median of {args.runs} runs")
            seconds = median_seconds(args.runs, multipart(contacts, SANCTIONED, "customers.csv"))
            line("(7) contact CSV to a sanctioned site, POST multipart", f"{seconds:.3f} s", "<= 0.2 s")
            for label, send in (("multipart", multipart), ("raw body", raw)):
                seconds = median_seconds(args.runs, send(products, UNSANCTIONED, "products.csv"))
                line(f"(8) benign product CSV, POST /v1/inspect {label}", f"{mb / seconds:.1f} MB/s", ">= 150 MB/s")
            latencies = []
            send = multipart(document, UNSANCTIONED, "review.txt")
            send()
            for _ in range(max(20, args.runs * 4)):
                started = time.perf_counter()
                send()
                latencies.append(time.perf_counter() - started)
            line("(8) 100 KB business document, POST /v1/inspect, p50", f"{statistics.median(latencies) * 1000:.1f} ms",
                 "<= 10 ms")
        in_process(args.runs, tmp, contacts, products, cores)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def in_process(runs: int, tmp: Path, contacts: bytes, products: bytes, cores: list[int]) -> None:
    if cores:
        os.sched_setaffinity(0, {cores[0]})
    settings = Settings(policies_dir=policies_reading_sanctioned(tmp / "warn"), data_dir=tmp / "data",
                        hash_key=SecretStr(secrets.token_hex(16)))
    runtime = Runtime.build(settings)
    try:
        scanner, limits = runtime.pipeline.scanner, runtime.pipeline.limits
        print("in-process, one core")
        seconds = median_seconds(runs, lambda: scan_blob(scanner, products, "products.csv", limits))
        line("(8) benign product CSV, scan", f"{len(products) / 1e6 / seconds:.1f} MB/s", ">= 250 MB/s")
        seconds = median_seconds(max(1, runs // 2), lambda: scan_blob(scanner, contacts, "customers.csv", limits))
        line("(7) contact CSV, full scan (every value found and counted)",
             f"{len(contacts) / 1e6 / seconds:.1f} MB/s", ">= 50 MB/s")
        envelope = Envelope("customers.csv", "corp-example.sharepoint.com")
        report = runtime.pipeline.inspect(contacts, envelope, "en")
        seconds = median_seconds(runs, lambda: runtime.pipeline.inspect(contacts, envelope, "en"))
        print(f"  {'    the same, decided: a rule warns there (' + report.decision.value + ')':<58} {seconds:>12.2f} s"
              f"   ({len(contacts) / 1e6 / seconds:.0f} MB/s; the scan stops once the warning is certain)")
    finally:
        runtime.close()


def _ok(response: httpx.Response) -> httpx.Response:
    response.raise_for_status()
    return response


def _server_pid(base: str) -> int | None:
    """The `detour serve` process listening on ``base``'s port (its children are the extraction workers)."""
    port = base.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                command = (proc / "cmdline").read_bytes().split(b"\0")
                if b"serve" in command and port.encode() in command:
                    return int(proc.name)
    return None


if __name__ == "__main__":
    main()
