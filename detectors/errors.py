"""Detour's exception root, and the errors content inspection raises on purpose.

``DetourError`` is the one root of every error Detour raises on purpose, in
every package: it lives here, at the bottom of the import graph, so the leaf
libraries can derive from it too. Only the adapters (HTTP, ICAP, CLI) turn these
errors into protocol answers; the scanner turns ``Unscannable`` into an
``UNSCANNABLE`` finding.
"""


class DetourError(Exception):
    """Base of every error Detour raises on purpose."""


class Unscannable(DetourError):
    """Content that cannot be inspected. ``reason`` is a plain sentence for staff and IT."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unredactable(DetourError):
    """This file can't be given as a redacted copy; the message says why, in plain words."""
