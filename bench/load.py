"""A bounded load run against a real `detour serve` on loopback, through HTTP and through ICAP.

For each worker count (``detour serve --workers N``, 1 and 2 by default), each
channel (POST /v1/inspect; ICAP REQMOD straight to Detour's ICAP port) and each
kind of upload (a ~100 KB benign product CSV, a ~100 KB customer contact CSV),
N clients send uploads back to back for T seconds. Printed per run: uploads/s,
latency p50/p95/p99, errors; then benign ICAP uploads paced at half the rate
just measured (open loop: the latency a proxy sees below saturation); whether
every decision answered was recorded (the store's row count once the writers
are idle); for the last worker count, small Office, PDF and image uploads;
and at the end how each run scaled. Numbers are printed, never asserted.

    .venv/bin/python bench/load.py [--clients 20] [--seconds 30] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the end-to-end services and the ICAP client of the test suite

from tests import files  # noqa: E402
from tests.icap_client import reqmod  # noqa: E402
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

    def rate(self, seconds: float) -> float:
        return len(self.latencies) / seconds

    def quantile(self, p: float) -> float:
        done = sorted(self.latencies)
        return done[min(len(done) - 1, int(p * (len(done) - 1)))] * 1000 if done else float("nan")

    def line(self, label: str, seconds: float) -> str:
        if not self.latencies:
            return f"  {label:<34} no upload answered, {self.errors} errors"
        return (f"  {label:<34} {self.rate(seconds):7.1f} uploads/s   p50 {self.quantile(0.5):7.1f} ms  "
                f"p95 {self.quantile(0.95):7.1f} ms  p99 {self.quantile(0.99):7.1f} ms   errors {self.errors}")


# --- the clients: asyncio on raw sockets, requests built once, so the load generator's own cost stays small
# (a thread per client with httpx took most of a core at these rates, on a 2-core machine shared with Detour)

class Connection:
    """One keep-alive connection that sends prepared requests and reads whole answers."""

    def __init__(self, port: int, icap: bool) -> None:
        self.port, self.icap = port, icap
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> bool:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        assert self.reader is not None
        self.writer.write(request)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)}
        if self.icap:
            encapsulated = headers.get(b"encapsulated", b"")
            if b"res-body=" in encapsulated or b"req-body=" in encapsulated:
                offset = int(encapsulated.rsplit(b"=", 1)[1])
                await self.reader.readexactly(offset)
                await self._chunks()
            elif b"null-body=" in encapsulated:
                await self.reader.readexactly(int(encapsulated.rsplit(b"=", 1)[1]))
            ok = status in (b"200", b"204")
        else:
            if headers.get(b"transfer-encoding") == b"chunked":
                await self._chunks()
            else:
                await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
            ok = status == b"200"
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return ok

    async def _chunks(self) -> None:
        assert self.reader is not None
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            await self.reader.readexactly(size + 2)
            if size == 0:
                return

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def http_request(blob: bytes, name: str, token: str) -> bytes:
    head = (f"POST /v1/inspect?destination={SITE}&filename={name} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(blob)}\r\n\r\n")
    return head.encode() + blob


def icap_request(blob: bytes, name: str) -> bytes:
    head = (f"POST {SITE}/{name} HTTP/1.1\r\nHost: share.files-example.net\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {len(blob)}\r\n\r\n").encode()
    first, rest = reqmod(head, blob)
    return first + rest


async def _timed(connection: Connection, request: bytes, run: Run) -> bool:
    """One upload on ``connection``, its latency (or an error) counted in ``run``; False: the connection closed."""
    started = time.perf_counter()
    try:
        ok = await asyncio.wait_for(connection.send(request), 120)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
        ok = False
        connection.close()
    if ok:
        run.latencies.append(time.perf_counter() - started)
    else:
        run.errors += 1
    return ok


async def _closed_loop(port: int, icap: bool, request: bytes, clients: int, seconds: float) -> Run:
    run = Run()
    stop = time.monotonic() + seconds

    async def client() -> None:
        connection = Connection(port, icap)
        while time.monotonic() < stop:
            await _timed(connection, request, run)
        connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return run


async def _paced(port: int, icap: bool, request: bytes, rate: float, seconds: float) -> Run:
    """Open loop: one upload every 1/rate s whatever the answers, on as many connections as that needs."""
    run, idle, tasks = Run(), list[Connection](), []
    begin = time.monotonic()

    async def one() -> None:
        connection = idle.pop() if idle else Connection(port, icap)
        if await _timed(connection, request, run):
            idle.append(connection)

    for number in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, begin + number / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    return run


async def _one_by_one(port: int, request: bytes, count: int) -> Run:
    run, connection = Run(), Connection(port, False)
    for _ in range(count):
        started = time.perf_counter()
        if await connection.send(request):
            run.latencies.append(time.perf_counter() - started)
        else:
            run.errors += 1
    connection.close()
    return run


def load(port: int, icap: bool, request: bytes, clients: int, seconds: float) -> Run:
    return asyncio.run(_closed_loop(port, icap, request, clients, seconds))


def paced(port: int, icap: bool, request: bytes, rate: float, seconds: float) -> Run:
    return asyncio.run(_paced(port, icap, request, rate, seconds))


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


def one_service(workers: int, args: argparse.Namespace, kinds: dict[str, bytes], tmp: Path,
                documents: bool) -> dict[tuple[str, str], Run]:
    """The runs against one ``detour serve --workers N``; returns them by (channel, kind)."""
    folder = tmp / f"workers-{workers}"
    folder.mkdir()
    policies = folder / "policies"
    shutil.copytree(ROOT / "policies", policies)
    runs: dict[tuple[str, str], Run] = {}
    answered = 0
    with contextlib.ExitStack() as stack:
        detour = stack.enter_context(contextlib.contextmanager(start_detour)(
            folder, {"DETOUR_POLICIES_DIR": str(policies), "DETOUR_LOG_LEVEL": "WARNING",
                     "DETOUR_WORKERS": str(workers)}))
        port = int(detour.http.rsplit(":", 1)[1])
        print(f"{workers} worker process{'es' if workers > 1 else ''}:")
        for channel, icap in (("HTTP /v1/inspect", False), ("ICAP REQMOD", True)):
            for kind, blob in kinds.items():
                request = icap_request(blob, f"{kind}.csv") if icap else http_request(blob, f"{kind}.csv",
                                                                                      detour.token)
                warm = load(detour.icap_port if icap else port, icap, request, 2 * workers, 2.0)  # each worker's first
                answered += len(warm.latencies) + warm.errors
                run = load(detour.icap_port if icap else port, icap, request, args.clients, args.seconds)
                answered += len(run.latencies) + run.errors
                runs[(channel, kind)] = run
                print(run.line(f"{channel}, {kind}", args.seconds))
        saturation = runs[("ICAP REQMOD", "benign")].rate(args.seconds)
        if saturation > 0:
            request = icap_request(kinds["benign"], "benign.csv")
            half = paced(detour.icap_port, True, request, saturation / 2, args.seconds)
            answered += len(half.latencies) + half.errors
            runs[("ICAP REQMOD paced", "benign")] = half
            print(half.line(f"ICAP, benign, {saturation / 2:.0f}/s (half)", args.seconds))
        if documents:
            answered += small_documents(port, detour.token, args.seconds)
        stored = recorded(detour.http, folder / "data" / "detour.db")
        print(f"  decisions answered: {answered}, recorded: {stored}{'' if stored == answered else '   MISMATCH'}")
    return runs


def small_documents(port: int, token: str, seconds: float) -> int:
    """Office, PDF and image uploads (extracted in an isolated worker): one at a time, then 10 clients."""
    formats = {"docx": files.docx(["Quarterly review", "Revenue grew in all regions."]),
               "pdf": files.pdf([["Quarterly review", "Revenue grew in all regions."]]),
               "png": files.image("PNG", "Quarterly review")}
    print("  small documents through HTTP (extracted in an isolated worker): one at a time, then 10 clients")
    answered = 0
    for kind, blob in formats.items():
        request = http_request(blob, f"doc.{kind}", token)
        single = asyncio.run(_one_by_one(port, request, 20))
        busy = load(port, False, request, 10, min(seconds, 15.0))
        answered += len(single.latencies) + single.errors + len(busy.latencies) + busy.errors
        print(f"    {kind:<5} p50 alone {statistics.median(single.latencies) * 1000:7.1f} ms   "
              + busy.line("10 clients", min(seconds, 15.0)).strip())
    return answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2", help="the worker counts to compare (comma-separated)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="detour-load-"))
    kinds = {"benign": products(args.size), "contacts": contacts(args.size)}
    counts = [int(n) for n in args.workers.split(",")]
    print(f"load: {args.clients} clients, {args.seconds:g} s per run, {args.size // 1000} KB uploads, "
          f"`detour serve --workers N` on loopback ({os.cpu_count()} cores; the load generator shares them)")
    results = {n: one_service(n, args, kinds, tmp, documents=n == counts[-1]) for n in counts}
    if len(counts) > 1:
        first, last = counts[0], counts[-1]
        print(f"scaling, {last} workers against {first}:")
        for key, run in results[first].items():
            base = run.rate(args.seconds)
            if key in results[last] and base and "paced" not in key[0]:
                print(f"  {key[0]}, {key[1]:<10} {results[last][key].rate(args.seconds) / base:5.2f} x")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
