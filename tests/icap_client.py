"""A small ICAP client for tests: REQMOD requests as Squid sends them, and an in-process server to send them to."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator

from gateway.icap.server import IcapServer


@contextlib.contextmanager
def serving(server: IcapServer) -> Iterator[int]:
    """Run ``server`` on an event loop of its own, in a thread, on a free loopback port; yield the port."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, asyncio.Server] = {}

    async def run() -> None:
        holder["server"] = await server.start("127.0.0.1", 0)
        started.set()
        try:
            async with holder["server"]:
                await holder["server"].serve_forever()
        except asyncio.CancelledError:
            pass
        finally:  # connections still open: let their handlers close them before the loop goes
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    thread = threading.Thread(target=lambda: loop.run_until_complete(run()), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield holder["server"].sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        thread.join(timeout=10)
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def http_head(method: str = "POST", url: str = "http://share.example.net/upload",
              headers: str = "Content-Type: text/csv\r\n") -> bytes:
    return f"{method} {url} HTTP/1.1\r\nHost: share.example.net\r\n{headers}\r\n".encode()


def reqmod(head: bytes, body: bytes | None, preview: int | None = None, allow_204: bool = True,
           extra: str = "") -> tuple[bytes, bytes]:
    """The ICAP request in two pieces: up to the end of the preview, and the rest (after 100 Continue)."""
    encapsulated = f"req-hdr=0, req-body={len(head)}" if body is not None else f"req-hdr=0, null-body={len(head)}"
    lines = ["REQMOD icap://127.0.0.1/reqmod ICAP/1.0", "Host: 127.0.0.1", f"Encapsulated: {encapsulated}"]
    if allow_204:
        lines.append("Allow: 204")
    if preview is not None:
        lines.append(f"Preview: {preview}")
    start = ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode() + head
    if body is None:
        return start, b""
    if preview is None:
        return start + chunk(body) + b"0\r\n\r\n", b""
    first, rest = body[:preview], body[preview:]
    if not rest:
        return start + chunk(first) + b"0; ieof\r\n\r\n", b""
    return start + chunk(first) + b"0\r\n\r\n", chunk(rest) + b"0\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n" if data else b""


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """One ICAP answer: its head, and its encapsulated body up to the last chunk."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            return data
        data += piece
    head = data.split(b"\r\n\r\n", 1)[0]
    if b"ICAP/1.0 100" in head or b"null-body" in head and b"req-hdr" not in head:
        return data
    if b"res-body" in head or b"req-body" in head:
        while not data.endswith(b"0\r\n\r\n"):
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
    elif b"null-body=" in head and b"req-hdr" in head:  # an echo without body: the HTTP head follows
        while data.count(b"\r\n\r\n") < 2:
            data += sock.recv(65536)
    return data


def exchange(port: int, first: bytes, rest: bytes = b"") -> bytes:
    with connect(port) as sock:
        sock.sendall(first)
        answer = read_answer(sock)
        if answer.startswith(b"ICAP/1.0 100"):
            sock.sendall(rest)
            answer = read_answer(sock)
        return answer


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


def answer_head(port: int, blob: bytes) -> bytes:
    """REQMOD of a POST carrying ``blob``, on a connection of its own: the answer up to its first blank line."""
    first, rest = reqmod(http_head(headers=f"Content-Length: {len(blob)}\r\n"), blob)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(first + rest)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += connection.recv(65536)
    return answer
