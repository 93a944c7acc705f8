"""The run's browser: Debian's Chromium with Detour's extension loaded, and what the extension tests need.

One Chromium per run, started here (not by Playwright: an extension runs only in the browser's default
profile) and driven over the DevTools protocol. Its default context has the extension; the contexts the
other browser tests open (``browser.new_context``) are separate, without it, as before.

- ``prepare_extension``: a copy of extension/ with a key made for the run in its manifest, so its ID (and
  so its origin, which Detour's CORS lets in) is known before the browser starts;
- the extension is configured by enterprise policy, as IT would: Chromium reads
  /etc/chromium/policies/managed/*.json at start (root only; the extension's options page otherwise);
- ``Relay``: a TCP relay between the extension and Detour that a test can switch off (Detour down);
- ``UploadSite``: pages that take files as collaboration sites do (a form, a drop zone, a paste target, a
  single-page app that uploads with fetch) and record every byte they get.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from scripts.pack_extension import SOURCE, extension_id, files, public_der
from tests.services import free_port

POLICY_FOLDER = Path("/etc/chromium/policies/managed")
SANCTIONED_HOST = "corp-example.sharepoint.com"  # the company's own SharePoint: the policy's sanctioned site
# Debian's Chromium in a closed network: no sync, no component updates, no calls home.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-quic", "--disable-features=Translate,MediaRouter,OptimizationHints",
                  "--window-size=1280,900")


@dataclass(frozen=True)
class Extension:
    path: Path
    id: str

    @property
    def origin(self) -> str:
        return f"chrome-extension://{self.id}"


def prepare_extension(folder: Path) -> Extension:
    """extension/ as shipped, with a key of the run's in its manifest (a fixed ID)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = public_der(key)
    target = folder / "extension"
    for path in files():
        copy = target / path.relative_to(SOURCE)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["key"] = base64.b64encode(der).decode()
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return Extension(target, extension_id(der))


def can_manage() -> bool:
    """Whether this process may write Chromium's enterprise policy (root only, on Linux)."""
    try:
        POLICY_FOLDER.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(POLICY_FOLDER, os.W_OK)


def managed_policy(extension: Extension, settings: dict[str, object]) -> Path | None:
    """Write the extension's settings as Chromium enterprise policy ("3rdparty"); None when this process
    may not (not root): the caller configures it through the options page instead."""
    try:
        POLICY_FOLDER.mkdir(parents=True, exist_ok=True)
        path = POLICY_FOLDER / f"detour-test-{extension.id}.json"
        path.write_text(json.dumps({"3rdparty": {"extensions": {extension.id: settings}}}))
    except OSError:
        return None
    return path


def configure_on_options_page(context: Any, extension: Extension, settings: dict[str, object]) -> None:
    """Set the extension up through its options page, as a small install without enterprise policy would."""
    page = context.new_page()
    try:
        page.goto(f"{extension.origin}/options.html")
        page.fill("#detourUrl", str(settings["detourUrl"]))
        page.fill("#apiToken", str(settings["apiToken"]))
        page.fill("#user", str(settings.get("user", "")))
        page.click("button[type=submit]")
        page.wait_for_selector("#status:not(:empty)")
        page.evaluate("(values) => chrome.storage.local.set(values)",  # not on the form: set as the page would
                      {k: v for k, v in settings.items() if k in ("pasteTextMinChars", "timeoutSeconds")})
    finally:
        page.close()


@contextlib.contextmanager
def chromium(executable: str, extension: Extension, proxy_pac: str) -> Iterator[str]:
    """Chromium with the extension; yields the DevTools endpoint to connect to."""
    profile = Path(tempfile.mkdtemp(prefix="detour-chromium-"))
    pac = "data:application/x-ns-proxy-autoconfig;base64," + base64.b64encode(proxy_pac.encode()).decode()
    command = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
               f"--load-extension={extension.path}", f"--disable-extensions-except={extension.path}",
               f"--proxy-pac-url={pac}", f"--host-resolver-rules=MAP {SANCTIONED_HOST} 127.0.0.1", "about:blank"]
    log_path = profile.parent / f"{profile.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{ready.read_text().split()[0]}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
        log_path.unlink(missing_ok=True)


class Relay:
    """A TCP relay on a port of its own to ``target``: ``down()`` refuses connections (and cuts those open)
    as a stopped Detour would; ``up()`` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.stalled = False  # connections are taken and never answered: a Detour too slow to decide
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.up()

    def stall(self, stalled: bool = True) -> None:
        """Take connections and answer nothing (new connections only: keep-alive ones are cut)."""
        self.down()
        self.stalled = stalled
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for connection in self._open:
                with _quiet():
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._open.clear()

    def close(self) -> None:
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.stalled:
                with self._lock:
                    self._open.add(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with source, _quiet():
            while data := source.recv(65536):
                sink.sendall(data)
        with _quiet():
            sink.shutdown(socket.SHUT_WR)
        with self._lock:
            self._open.discard(source)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


@dataclass
class Got:
    """What a page's own script got and sent on: how (form, drop, paste, app…), the file's name and type."""

    how: str
    name: str
    type: str
    body: bytes
    content_type: str = ""

    def file(self) -> bytes:
        """The bytes of the file: the body itself, or the file part of a multipart form."""
        if not self.content_type.startswith("multipart/form-data"):
            return self.body
        message = BytesParser(policy=default).parsebytes(
            f"Content-Type: {self.content_type}\r\n\r\n".encode() + self.body)
        for part in message.iter_parts():
            if part.get_filename() is not None:
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else b""
        return b""


@dataclass
class UploadSite:
    port: int
    got: list[Got] = field(default_factory=list)

    def url(self, page: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{page}"

    def wait_for(self, count: int, seconds: float = 20) -> list[Got]:
        deadline = time.monotonic() + seconds
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.got)


PAGES = Path(__file__).resolve().parent / "pages"


def start_upload_site() -> Iterator[UploadSite]:
    site = UploadSite(0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            name = urlsplit(self.path).path.strip("/") or "form"
            page = PAGES / f"{name}.html"
            if not page.is_file() or "/" in name:
                self.send_error(404)
                return
            body = page.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            query = parse_qs(urlsplit(self.path).query)
            site.got.append(Got(query.get("how", ["?"])[0], query.get("name", [""])[0], query.get("type", [""])[0],
                                body, self.headers.get("Content-Type", "")))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def removed(path: Path | None) -> None:
    if path is not None:
        with _quiet():
            os.unlink(path)
