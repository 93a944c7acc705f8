"""Exceptions raised by extraction; the scanner turns them into ``UNSCANNABLE`` findings."""


class Unscannable(Exception):
    """Content that cannot be inspected. ``reason`` is a plain sentence for staff and IT."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
