"""Small factories for the pipeline records, as mitmproxy ships tflow()."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from detectors import entities
from detectors.findings import Finding, Layout, Location, ScanResult
from gateway.records import Upload


def make_upload(
    destination: str = "https://wetransfer.com/", file_name: str = "upload.csv", user: str | None = None,
    group: str | None = None,
) -> Upload:
    return Upload(file_name=file_name, destination=destination, size=1, sha256="0" * 64, user=user, group=group)


def make_finding(
    entity: str = entities.EMAIL_ADDRESS, value: str = "a@example.com", record: int = 1, block: int | None = None,
    layout: Layout = Layout.TABLE, part: int = 0, score: float = 1.0,
) -> Finding:
    digest = hashlib.sha256(f"{entity}:{value}".encode()).hexdigest()[:24]
    return Finding(entity, "masked", digest, score, Location(part, "upload.csv", record,
                   record if block is None else block), layout)


def make_contacts(people: int, layout: Layout = Layout.TABLE) -> list[Finding]:
    """One e-mail and one phone per person, each person on their own row/line."""
    findings = []
    for i in range(people):
        findings.append(make_finding(entities.EMAIL_ADDRESS, f"p{i}@example.com", record=i + 1, layout=layout))
        findings.append(make_finding(entities.PHONE_NUMBER, f"+4670000{i:04d}", record=i + 1, layout=layout))
    return findings


def make_scan(findings: Iterable[Finding] = (), mime_type: str = "text/csv") -> ScanResult:
    return ScanResult(mime_type, tuple(findings), parts=1, scanned_chars=100)


class AppClient:
    """Synchronous calls into the ASGI app through httpx's ASGI transport (no server, no mocks)."""

    def __init__(self, app: FastAPI, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = headers or {}  # sent with every request (e.g. an API client token)

    @classmethod
    def with_token(cls, app: FastAPI, may_assert_user: bool = True) -> AppClient:
        """A client that sends an API client token (made in the app's store) with every request."""
        token = app.state.runtime.clients.create(f"tests-{secrets.token_hex(4)}", may_assert_user)
        return cls(app, {"Authorization": f"Bearer {token}"})

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://detour.test",
                                         headers=self.headers) as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def submit(self, decision_id: str, action: str, data: dict[str, str] | None = None,
               **kwargs: Any) -> httpx.Response:
        """Send one of a decision page's forms as a browser would: with the form token the page carries."""
        page = self.get(f"/d/{decision_id}").text
        found = re.search(r'name="form_token" value="([0-9a-f]+)"', page)
        assert found is not None, "the page has no form"
        return self.post(f"/d/{decision_id}/{action}", data={**(data or {}), "form_token": found.group(1)}, **kwargs)


def extraction_workers() -> list[int]:
    """The children of this process's multiprocessing forkserver: the extraction workers."""
    parents: dict[int, int] = {}
    servers: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        pid, parent = int(entry.name), int(stat.rsplit(")", 1)[1].split()[1])
        parents[pid] = parent
        if parent == os.getpid() and b"forkserver" in command:
            servers.add(pid)
    return [pid for pid, parent in parents.items() if parent in servers]
