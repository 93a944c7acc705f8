"""Limits on how much of an untrusted upload Detour will read, stated in one place.

Defaults come from the gateway's settings; a policy may tighten or loosen them.
Exceeding a limit is never a silent pass: it yields an ``UNSCANNABLE`` finding.
``Budget`` spends the per-upload limits (bytes, members, time) across nested
containers, so a zip of zips cannot multiply them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from detectors.errors import Unscannable

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    max_upload_bytes: int = 100 * MB
    max_text_chars: int = 50_000_000
    max_json_depth: int = 64
    max_records: int = 2_000_000
    max_archive_depth: int = 5  # containers inside containers (zip in zip, mail attachment in zip…)
    max_members: int = 10_000  # files inside all containers of one upload
    max_total_bytes: int = 1024 * MB  # uncompressed bytes inside all containers of one upload
    max_member_bytes: int = 256 * MB  # one file inside a container
    max_ratio: int = 200  # uncompressed / compressed size of one member
    max_pdf_pages: int = 2_000
    ocr_max_pixels: int = 40_000_000
    ocr_seconds: float = 30.0
    file_seconds: float = 60.0  # one extraction worker (per file at the top of an upload)
    upload_seconds: float = 120.0  # the whole upload
    worker_memory_bytes: int = 2048 * MB


@dataclass
class Budget:
    """What one upload may still spend; raises ``Unscannable`` when a limit is exceeded."""

    limits: Limits
    started: float = field(default_factory=time.monotonic)
    bytes_used: int = 0
    members: int = 0

    def spend_bytes(self, amount: int, origin: str) -> None:
        self.bytes_used += amount
        if self.bytes_used > self.limits.max_total_bytes:
            raise Unscannable(f"{origin} unpacks to more than the {self.limits.max_total_bytes // MB} MB "
                              "one upload may hold, so it can't be checked completely")

    def room_for(self, size: int, origin: str) -> int:
        """How many bytes ``origin`` may unpack to; raises when its (declared) ``size`` won't fit."""
        remaining = self.limits.max_total_bytes - self.bytes_used
        if size > remaining or remaining <= 0:
            raise Unscannable(f"{origin} unpacks to more than the {self.limits.max_total_bytes // MB} MB "
                              "one upload may hold, so it can't be checked completely")
        if size > self.limits.max_member_bytes:
            raise Unscannable(f"{origin} is larger than {self.limits.max_member_bytes // MB} MB unpacked, "
                              "so it can't be checked completely")
        return min(remaining, self.limits.max_member_bytes)

    def spend_member(self, origin: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise Unscannable(f"{origin} holds more than {self.limits.max_members:,} files, "
                              "so it can't be checked completely")

    def check_time(self, origin: str) -> None:
        if time.monotonic() - self.started > self.limits.upload_seconds:
            raise Unscannable(f"checking {origin} took longer than {self.limits.upload_seconds:g} seconds, "
                              "so it was not checked completely")
