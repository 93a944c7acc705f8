"""A bounded load run against a real `detour serve` on loopback, through HTTP and through ICAP.

For each channel (POST /v1/inspect; ICAP REQMOD straight to Detour's ICAP port)
and each kind of upload (a ~100 KB benign product CSV, a ~100 KB customer
contact CSV), N clients send uploads back to back for T seconds. Printed per
run: uploads/s, latency p50/p95/p99, errors, and at the end whether every
decision answered was recorded (the store's row count after the writer is
idle). Then the latency of small Office, PDF and image uploads (extraction in
an isolated worker), one at a time and with 10 clients. Numbers are printed,
never asserted.

    .venv/bin/python bench/load.py [--clients 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the end-to-end services and the ICAP client of the test suite

from tests import files  # noqa: E402
from tests.icap_client import exchange, reqmod  # noqa: E402
from tests.services import start_detour  # noqa: E402

SITE = "http://share.files-example.net/upload"
FIRST = "Anna Bram Carla David Eva Frank Greta Hugo Ines Jonas Karin Lars Maja Nils Olga Pieter".split()


def products(size: int) -> bytes:
    rng, rows, total = random.Random(size), ["sku,name,price,stock"], 0
    while total < size:
        rows.append(f"P{rng.randint(0, 9_999_999):07d},desk lamp {rng.randint(1, 99)},{rng.randint(1, 999)}.00,"
                    f"{rng.randint(0, 500)}")
        total += len(rows[-1]) + 1
    return "\n".join(rows).encode()[:size]


def contacts(size: int) -> bytes:
    rng, rows, total = random.Random(size), ["name,email,phone"], 0
    while total < size:
        name = rng.choice(FIRST)
        rows.append(f"{name} {len(rows)},{name.lower()}.{len(rows)}@example.com,+46 70 {rng.randint(100, 999)} "
                    f"{rng.randint(10, 99)} {rng.randint(10, 99)}")
        total += len(rows[-1]) + 1
    return ("\n".join(rows) + "\n").encode()


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self, label: str, seconds: float) -> str:
        done = sorted(self.latencies)
        if not done:
            return f"  {label:<28} no upload answered, {self.errors} errors"

        def q(p: float) -> float:
            return done[min(len(done) - 1, int(p * (len(done) - 1)))] * 1000

        return (f"  {label:<28} {len(done) / seconds:7.1f} uploads/s   p50 {q(0.5):7.1f} ms  p95 {q(0.95):7.1f} ms  "
                f"p99 {q(0.99):7.1f} ms   errors {self.errors}")


def http_upload(base: str, auth: dict[str, str]) -> Callable[[bytes, str], bool]:
    local = threading.local()

    def send(blob: bytes, name: str) -> bool:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=120, headers=auth)
        response = client.post(f"{base}/v1/inspect", params={"destination": SITE, "filename": name}, content=blob)
        return response.status_code == 200

    return send


def icap_upload(port: int) -> Callable[[bytes, str], bool]:
    def send(blob: bytes, name: str) -> bool:
        head = (f"POST {SITE}/{name} HTTP/1.1\r\nHost: share.files-example.net\r\nContent-Type: text/csv\r\n\r\n"
                .encode())
        answer = exchange(port, *reqmod(head, blob))
        return answer.startswith((b"ICAP/1.0 204", b"ICAP/1.0 200"))

    return send


def load(send: Callable[[bytes, str], bool], blob: bytes, clients: int, seconds: float) -> Run:
    run = Run()
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        n = 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                ok = send(blob, f"c{number}-{n}.csv")
            except (httpx.HTTPError, OSError):
                ok = False
            elapsed = time.perf_counter() - started
            with run.lock:
                if ok:
                    run.latencies.append(elapsed)
                else:
                    run.errors += 1
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


def recorded(base: str, database: Path) -> int:
    """Decisions in the store once the recorder has nothing queued or spooled."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        store = httpx.get(f"{base}/readyz", timeout=10).json()["store"]
        if store["queued"] == 0 and store["spooled"] == 0:
            break
        time.sleep(0.2)
    time.sleep(0.5)  # the last batch is being committed
    with sqlite3.connect(database) as connection:
        count: int = connection.execute("select count(*) from decisions").fetchone()[0]
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="detour-load-"))
    policies = tmp / "policies"
    shutil.copytree(ROOT / "policies", policies)
    kinds = {"benign": products(args.size), "contacts": contacts(args.size)}
    answered = 0
    with contextlib.ExitStack() as stack:
        detour = stack.enter_context(contextlib.contextmanager(start_detour)(
            tmp, {"DETOUR_POLICIES_DIR": str(policies), "DETOUR_LOG_LEVEL": "WARNING"}))
        channels = {"HTTP /v1/inspect": http_upload(detour.http, detour.auth),
                    "ICAP REQMOD": icap_upload(detour.icap_port)}
        print(f"load: {args.clients} clients, {args.seconds:g} s per run, {args.size // 1000} KB uploads, "
              f"one `detour serve` on loopback")
        for channel, send in channels.items():
            for kind, blob in kinds.items():
                send(blob, "warm-up.csv")
                answered += 1
                run = load(send, blob, args.clients, args.seconds)
                answered += len(run.latencies)
                print(run.line(f"{channel}, {kind}", args.seconds))
        formats = {"docx": files.docx(["Quarterly review", "Revenue grew in all regions."]),
                   "pdf": files.pdf([["Quarterly review", "Revenue grew in all regions."]]),
                   "png": files.image("PNG", "Quarterly review")}
        print("small documents through HTTP (extracted in an isolated worker): one at a time, then 10 clients")
        send = http_upload(detour.http, detour.auth)
        for kind, blob in formats.items():
            single = Run()
            for _ in range(20):
                started = time.perf_counter()
                ok = send(blob, f"doc.{kind}")
                (single.latencies.append(time.perf_counter() - started) if ok else None)
                answered += 1
            busy = load(send, blob, 10, min(args.seconds, 15.0))
            answered += len(busy.latencies) + busy.errors
            print(f"  {kind:<5} p50 alone {statistics.median(single.latencies) * 1000:7.1f} ms   "
                  + busy.line("10 clients", min(args.seconds, 15.0)).strip())
        stored = recorded(detour.http, tmp / "data" / "detour.db")
        print(f"decisions answered: {answered}, recorded: {stored}"
              f"{'' if stored == answered else '   MISMATCH'}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
