"""What every extractor shares: the ``Item``s it yields, the ``Context`` it reads within, bounded reading.

An extractor is ``extractor(blob, origin, encoding, context) -> Iterator[Item]``.
A container (archive, mail, Office package) hands each member back through
``context.member(data, origin)``, which charges the upload's budget and sends
the member to the dispatcher (``detectors.extract.dispatch``) the context was
made with: format modules never import the dispatcher, so there is no import
cycle however deeply containers nest.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from detectors.errors import Unscannable
from detectors.findings import Part, Skipped
from detectors.limits import MB, Budget, Limits

Item = Part | Skipped
Dispatch = Callable[[bytes, str, "Context"], Iterator[Item]]
CHUNK = 1024 * 1024


@dataclass
class Context:
    """Limits, the upload's shared budget, how deep inside containers we are, and where members go."""

    limits: Limits
    budget: Budget
    dispatch: Dispatch
    depth: int = 0

    def deeper(self, origin: str) -> Context:
        if self.depth + 1 > self.limits.max_archive_depth:
            raise Unscannable(f"{origin} is nested more than {self.limits.max_archive_depth} containers deep, "
                              "so it can't be checked")
        return Context(self.limits, self.budget, self.dispatch, self.depth + 1)

    def member(self, data: bytes, origin: str) -> Iterator[Item]:
        """A file found inside a container: charge it to the budget, then extract it like any upload."""
        try:
            inner = self.charge(origin)
        except Unscannable as exc:
            yield Skipped(origin, exc.reason)
            return
        yield from self.dispatch(data, origin, inner)

    def charge(self, origin: str) -> Context:
        """Count one more file inside this upload; the context to read it in (one level deeper)."""
        self.budget.spend_member(origin)
        self.budget.check_time(origin)
        return self.deeper(origin)


Extractor = Callable[[bytes, str, str, Context], Iterator[Item]]


def member_origin(container: str, member: str) -> str:
    return f"{container} › {member}"


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def read_bounded(stream: Readable, limit: int, origin: str) -> bytes:
    """Read at most ``limit`` bytes; more than that is a limit exceeded, whatever the header claimed."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise Unscannable(f"{origin} unpacks to more than {limit // MB} MB, so it can't be checked completely")


def read_capped(stream: Readable, limit: int, packed: int, origin: str, max_ratio: int) -> bytes:
    """Like ``read_bounded``, but also stop once the output outgrows ``max_ratio`` times the input."""
    ratio_cap = max(MB, packed * max_ratio)
    if ratio_cap >= limit:
        return read_bounded(stream, limit, origin)
    try:
        return read_bounded(stream, ratio_cap, origin)
    except Unscannable:
        raise Unscannable(f"{origin} is compressed suspiciously well (more than {max_ratio}:1, like a zip bomb), "
                          "so it can't be checked") from None


def read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, origin: str, context: Context) -> bytes:
    """One member of a ZIP (an archive or an Office package), bounded by its header and by what it yields."""
    limits = context.limits
    if info.compress_size and info.file_size / info.compress_size > limits.max_ratio and info.file_size > MB:
        raise Unscannable(f"{origin} is compressed suspiciously well (more than {limits.max_ratio}:1, "
                          "like a zip bomb), so it can't be checked")
    limit = context.budget.room_for(info.file_size, origin)
    try:
        with archive.open(info) as stream:  # the header may lie: bound the bytes actually produced too
            data = read_capped(stream, limit, info.compress_size, origin, limits.max_ratio)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise Unscannable(f"{origin} is damaged or uses an unsupported compression, so it can't be checked") from exc
    context.budget.spend_bytes(len(data), origin)
    return data
