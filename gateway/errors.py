"""The gateway's errors. One root for all of Detour, ``DetourError`` (defined with the leaf libraries in
``detectors.errors``, so they share it); only the adapters (HTTP, ICAP, CLI) turn these into protocol answers."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.errors import DetourError

__all__ = ["BadRequest", "ConfigurationError", "DetourError", "PolicyError", "Problem", "ProtocolError"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a policy file, located for the person who edits it."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class PolicyError(DetourError):
    """The policy files are invalid; the message names the file, the line and the field."""

    SHOWN = 100  # the problems spelled out; more are counted (a file of garbage is not a 40 MB message)

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems[:self.SHOWN]
        lines = "\n".join(f"  {p}" for p in self.problems)
        if len(problems) > self.SHOWN:
            lines += f"\n  … and {len(problems) - self.SHOWN} more"
        super().__init__(f"invalid policy ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{lines}")


class ConfigurationError(DetourError):
    """A setting names something that is not there (e.g. an NER model that is not installed)."""


class BadRequest(DetourError):
    """The caller sent something we cannot inspect; the message says what to send instead."""


class ProtocolError(DetourError):
    """A malformed request on a proxy protocol (ICAP): answered with ``status`` and the connection closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
