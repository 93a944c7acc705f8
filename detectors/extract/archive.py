"""Extractor for archives and compressed files: ZIP, GZIP, BZIP2, XZ and TAR, nested at any depth.

Members are read one at a time, each bounded before it is read (declared size,
compression ratio) and while it is read (actual size), against the upload's
shared budget. Encrypted members are reported, not skipped silently. Member
names are only ever displayed: nothing is written to disk, so zip-slip names
are harmless. ZIPs that are Office or OpenDocument packages go to ``office``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from typing import IO

from detectors.errors import Unscannable
from detectors.extract import office
from detectors.extract.base import Context, Item, Readable, member_origin, read_bounded, read_capped, read_zip_member
from detectors.findings import Skipped


def extract_zip(blob: bytes, origin: str, encoding: str, context: Context) -> Iterator[Item]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unscannable(f"{origin} is a damaged ZIP archive, so it can't be checked") from exc
    with archive:
        package = office.package_kind(archive)
        if package is not None:
            yield from office.extract_package(archive, package, origin, context)
            return
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = member_origin(origin, info.filename)
            if info.flag_bits & 0x1:
                yield Skipped(name, f"{name} is encrypted, so it can't be checked")
                continue
            try:
                data = read_zip_member(archive, info, name, context)
            except Unscannable as exc:
                yield Skipped(name, exc.reason)
                continue
            yield from context.member(data, name)


def _extract_stream(opener: Callable[[IO[bytes]], Readable], suffixes: tuple[tuple[str, str], ...]) -> Callable[
        [bytes, str, str, Context], Iterator[Item]]:
    def extract_compressed(blob: bytes, origin: str, encoding: str, context: Context) -> Iterator[Item]:
        inner = origin.rsplit(" › ", 1)[-1].rsplit("/", 1)[-1]
        for suffix, replacement in suffixes:
            if inner.lower().endswith(suffix):
                inner = inner[: -len(suffix)] + replacement
                break
        name = member_origin(origin, inner or "content")
        limit = context.budget.room_for(0, name)
        try:
            data = read_capped(opener(io.BytesIO(blob)), limit, len(blob), name, context.limits.max_ratio)
        except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise Unscannable(f"{origin} is damaged, so it can't be checked") from exc
        context.budget.spend_bytes(len(data), name)
        yield from context.member(data, name)

    return extract_compressed


extract_gzip = _extract_stream(lambda f: gzip.GzipFile(fileobj=f), ((".gz", ""), (".tgz", ".tar")))
extract_bzip2 = _extract_stream(lambda f: bz2.BZ2File(f), ((".bz2", ""),))
extract_xz = _extract_stream(lambda f: lzma.LZMAFile(f), ((".xz", ""),))


def extract_tar(blob: bytes, origin: str, encoding: str, context: Context) -> Iterator[Item]:
    try:
        archive = tarfile.open(fileobj=io.BytesIO(blob), mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise Unscannable(f"{origin} is a damaged TAR archive, so it can't be checked") from exc
    with archive:
        for member in archive:
            if not member.isfile():
                continue
            name = member_origin(origin, member.name)
            try:
                limit = context.budget.room_for(member.size, name)
                stream = archive.extractfile(member)
                if stream is None:
                    continue
                data = read_bounded(stream, limit, name)
                context.budget.spend_bytes(len(data), name)
            except Unscannable as exc:
                yield Skipped(name, exc.reason)
                continue
            yield from context.member(data, name)
