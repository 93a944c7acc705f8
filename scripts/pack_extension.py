"""Package the browser extension: ``make extension`` (a zip for the Chrome Web Store, Edge Add-ons and
addons.mozilla.org) and, with ``KEY=path/to/key.pem``, a signed CRX3 for self-hosting with
``ExtensionInstallForcelist`` (docs/integrations/browser-extension.md).

The zip is reproducible: the same files give the same bytes (sorted entries, fixed times). The CRX is
CRX3 as Chromium reads it: ``Cr24``, version 3, a ``CrxFileHeader`` (protobuf: the RSA public key, the
signature, and the signed ``crx_id``), then the zip. The extension's ID follows from the key: the
first 16 bytes of the SHA-256 of the public key, written with the letters a–p.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import struct
import sys
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "extension"
# What the extension is made of; its lint set-up (package.json, node_modules, eslint config) is not.
SHIPPED = ("manifest.json", "schema.json", "background.js", "options.html", "options.css", "options.js",
           "content/*.js", "_locales/*/messages.json", "icons/*.png")
ZIP_TIME = (2026, 1, 1, 0, 0, 0)
CRX_MAGIC = b"Cr24"
CRX_VERSION = 3
SIGNED_DATA_PREFIX = b"CRX3 SignedData\x00"


def files(source: Path = SOURCE) -> list[Path]:
    found = {path for pattern in SHIPPED for path in source.glob(pattern) if path.is_file()}
    return sorted(found, key=lambda p: p.relative_to(source).as_posix())


def build_zip(source: Path = SOURCE) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files(source):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def public_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def extension_id(public_key_der: bytes) -> str:
    """Chromium's ID of an extension signed with this key (also of an unpacked one with it as ``key``)."""
    digest = hashlib.sha256(public_key_der).digest()[:16]
    return "".join(chr(ord("a") + int(nibble, 16)) for nibble in digest.hex())


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def build_crx(zipped: bytes, key: rsa.RSAPrivateKey) -> bytes:
    der = public_der(key)
    signed_data = _field(1, hashlib.sha256(der).digest()[:16])  # SignedData.crx_id
    signature = key.sign(SIGNED_DATA_PREFIX + struct.pack("<I", len(signed_data)) + signed_data + zipped,
                         padding.PKCS1v15(), hashes.SHA256())
    proof = _field(1, der) + _field(2, signature)  # AsymmetricKeyProof
    header = _field(2, proof) + _field(10000, signed_data)  # sha256_with_rsa, signed_header_data
    return CRX_MAGIC + struct.pack("<II", CRX_VERSION, len(header)) + header + zipped


def load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SystemExit(f"{path}: a CRX is signed with an RSA key (openssl genrsa -out key.pem 2048)")
    return key


def version(source: Path = SOURCE) -> str:
    return str(json.loads((source / "manifest.json").read_text())["version"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--key", type=Path, help="RSA private key (PEM) to sign a CRX with")
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="folder for the packages (default build/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    zipped = build_zip()
    name = f"detour-extension-{version()}"
    (args.out / f"{name}.zip").write_bytes(zipped)
    print(f"{args.out / f'{name}.zip'}: {len(files())} files, {len(zipped)} bytes")
    if args.key is not None:
        key = load_key(args.key)
        (args.out / f"{name}.crx").write_bytes(build_crx(zipped, key))
        print(f"{args.out / f'{name}.crx'}: extension ID {extension_id(public_der(key))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
