"""Extractor for images (PNG, JPEG, TIFF…): text through OCR with tesseract, bounded in pixels and time.

Screenshots of spreadsheets and photos of documents carry the same data as
the files themselves. Images over the pixel limit, or that OCR cannot finish
in time, are unscannable rather than passed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator

from PIL import Image, UnidentifiedImageError

from detectors.errors import Unscannable
from detectors.extract.base import Context, Item
from detectors.findings import Layout, Part

OCR_LANGUAGES = "eng+swe+nld"


def extract_image(blob: bytes, origin: str, encoding: str, context: Context) -> Iterator[Item]:
    limits = context.limits
    try:
        with Image.open(io.BytesIO(blob)) as image:  # reads the header only
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Unscannable(f"{origin} is a damaged image, so it can't be checked") from exc
    if width * height > limits.ocr_max_pixels:
        raise Unscannable(f"{origin} is larger than {limits.ocr_max_pixels // 1_000_000} megapixels, "
                          "so its text can't be checked")
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        raise Unscannable(f"text recognition (tesseract) is not installed, so {origin} can't be checked")
    try:
        result = subprocess.run([tesseract, "stdin", "stdout", "-l", OCR_LANGUAGES, "--psm", "3"], input=blob,
                                capture_output=True, timeout=limits.ocr_seconds, check=False,
                                env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"})
    except subprocess.TimeoutExpired as exc:
        raise Unscannable(f"reading the text in {origin} took longer than {limits.ocr_seconds:g} seconds, "
                          "so it can't be checked") from exc
    if result.returncode != 0:
        raise Unscannable(f"the text in {origin} could not be read, so it can't be checked")
    text = result.stdout.decode("utf-8", errors="replace")
    if text.strip():
        yield Part(text, f"{origin} › text in image", Layout.PROSE)
