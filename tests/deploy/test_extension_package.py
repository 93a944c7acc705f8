"""The browser extension as it ships: its texts in three languages, its lint, its packages (zip, CRX3)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from scripts.pack_extension import (
    CRX_MAGIC,
    SIGNED_DATA_PREFIX,
    SOURCE,
    build_crx,
    build_zip,
    extension_id,
    files,
    main,
    public_der,
)
from tests.browser import Extension, prepare_extension

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("en", "sv", "nl")
# What web-ext says and why it stays: Firefox has no "identity.email" (Chromium needs it to name the
# person signed in to the profile) and runs background.scripts where Chromium runs the service worker.
KNOWN_WARNINGS = {"MANIFEST_PERMISSIONS", "MANIFEST_FIELD_UNSUPPORTED"}


def catalogue(language: str) -> dict[str, str]:
    messages = json.loads((SOURCE / "_locales" / language / "messages.json").read_text(encoding="utf-8"))
    return {key: value["message"] for key, value in messages.items()}


def test_every_text_the_extension_shows_is_in_english_swedish_and_dutch() -> None:
    english = catalogue("en")
    used = set()
    for script in ("content/overlay.js", "content/content.js", "options.js", "options.html", "manifest.json"):
        text = (SOURCE / script).read_text()
        used |= set(re.findall(r"strings(?:\?)?\.(\w+)", text)) | set(re.findall(r'data-i18n="(\w+)"', text))
        used |= set(re.findall(r'text\("(\w+)"', text)) | set(re.findall(r"__MSG_(\w+)__", text))
    assert used - english.keys() == set(), "texts used but not in _locales/en"
    for language in ("sv", "nl"):
        translated = catalogue(language)
        assert translated.keys() == english.keys()
        for key, message in translated.items():
            assert message.strip(), f"{language}: {key} is empty"
            assert set(re.findall(r"\{\w+\}", message)) == set(re.findall(r"\{\w+\}", english[key])), key
            if key not in ("extensionName",):
                assert message != english[key], f"{language}: {key} is still English"


def test_the_manifest_names_only_files_that_exist() -> None:
    manifest = json.loads((SOURCE / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3
    named = [manifest["background"]["service_worker"], *manifest["background"]["scripts"],
             manifest["options_ui"]["page"], manifest["storage"]["managed_schema"], *manifest["icons"].values()]
    named += [script for entry in manifest["content_scripts"] for script in entry["js"]]
    shipped = {path.relative_to(SOURCE).as_posix() for path in files()}
    assert set(named) <= shipped
    main_world = [entry for entry in manifest["content_scripts"] if entry.get("world") == "MAIN"]
    assert [entry["js"] for entry in main_world] == [["content/hook.js"]]  # the page's world: the hook only


def test_the_managed_schema_describes_every_setting_the_service_worker_reads() -> None:
    schema = json.loads((SOURCE / "schema.json").read_text())
    worker = (SOURCE / "background.js").read_text()
    defaults = re.search(r"const DEFAULTS = Object\.freeze\(\{(.*?)\}\);", worker, re.S)
    assert defaults is not None
    keys = set(re.findall(r"^\s+(\w+):", defaults.group(1), re.M))
    assert keys == set(schema["properties"])
    for name, spec in schema["properties"].items():
        assert spec["type"] in ("string", "integer", "array", "boolean"), name
        assert spec.get("description"), name


def test_web_ext_finds_no_errors() -> None:
    web_ext = ROOT / "node_modules" / ".bin" / "web-ext"
    if not web_ext.exists():
        pytest.fail("web-ext is not installed: `make install` installs it (npm ci, package-lock.json)")
    run = subprocess.run([str(web_ext), "lint", "--source-dir", str(SOURCE), "--self-hosted", "--output", "json"],
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    report = json.loads(run.stdout)
    assert report["errors"] == [], report["errors"]
    assert {w["code"] for w in report["warnings"]} <= KNOWN_WARNINGS, report["warnings"]


def test_the_zip_is_the_extension_and_the_same_every_time(tmp_path: Path) -> None:
    first, second = build_zip(), build_zip()
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert "manifest.json" in names and "content/hook.js" in names
        assert not [n for n in names if "node_modules" in n or n.endswith((".py", "package.json"))]
        assert archive.read("background.js") == (SOURCE / "background.js").read_bytes()


def test_make_extension_signs_a_crx3_chromium_can_verify(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    assert main(["--key", str(pem), "--out", str(tmp_path / "out")]) == 0
    version = json.loads((SOURCE / "manifest.json").read_text())["version"]
    crx = (tmp_path / "out" / f"detour-extension-{version}.crx").read_bytes()
    zipped = (tmp_path / "out" / f"detour-extension-{version}.zip").read_bytes()
    assert crx[:4] == CRX_MAGIC
    format_version, header_size = struct.unpack("<II", crx[4:12])
    assert format_version == 3 and crx[12 + header_size:] == zipped
    header = _fields(crx[12:12 + header_size])
    proof = _fields(header[2])
    signed_data = header[10000]
    public_key = serialization.load_der_public_key(proof[1])
    assert isinstance(public_key, RSAPublicKey)
    public_key.verify(proof[2], SIGNED_DATA_PREFIX + struct.pack("<I", len(signed_data)) + signed_data + zipped,
                      padding.PKCS1v15(), hashes.SHA256())  # raises if the signature is wrong
    assert _fields(signed_data)[1] == hashlib.sha256(proof[1]).digest()[:16]
    assert extension_id(proof[1]) == extension_id(public_der(key))
    assert re.fullmatch(r"[a-p]{32}", extension_id(proof[1]))
    tampered = build_crx(zipped + b"x", key)
    assert tampered != crx


def test_the_id_the_tests_give_the_extension_is_chromiums(tmp_path: Path, browser: Any,
                                                         extension: Extension) -> None:
    """The ID computed from a key is the one Chromium gives the extension loaded with it (the run's browser)."""
    workers = browser.contexts[0].service_workers
    assert [w.url for w in workers if w.url.endswith("/background.js")] == [f"{extension.origin}/background.js"]
    assert prepare_extension(tmp_path).id != extension.id  # a key per run


def _fields(message: bytes) -> dict[int, bytes]:
    """The length-delimited fields of a protobuf message (the first of each number)."""
    out: dict[int, bytes] = {}
    i = 0
    while i < len(message):
        tag, i = _varint(message, i)
        length, i = _varint(message, i)
        out.setdefault(tag >> 3, message[i:i + length])
        i += length
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i
