"""Limits on how much of an untrusted upload Detour will read, stated in one place.

Defaults come from the gateway's settings; a policy may tighten or loosen them.
Exceeding a limit is never a silent pass: it yields an ``UNSCANNABLE`` finding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_upload_bytes: int = 100 * 1024 * 1024
    max_text_chars: int = 50_000_000
    max_json_depth: int = 64
    max_records: int = 2_000_000
