"""Exact data match sets in the decision store: registered once (``detour edm add``), found by every replica.

A set registered now is keyed by ``DETOUR_HASH_KEY`` (the key of each set is derived from it and never
stored): the store holds keyed hashes that can't be tested against guesses without the key. Sets kept as files
in ``DETOUR_DATA_DIR/edm/`` by earlier versions are moved into the store when Detour starts, unless the store
already has a set of that name; they keep the key they were made with, stored wrapped with a key derived from
``DETOUR_HASH_KEY``; the file is renamed ``NAME.json.moved``. Each set carries a check of its key: loading it
under another ``DETOUR_HASH_KEY`` (which would make it silently match nothing) is an error that says so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import zlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from detectors.edm import FingerprintSet
from gateway.errors import ConfigurationError
from gateway.store.models import EdmSetRow
from gateway.store.store import DecisionStore

log = logging.getLogger(__name__)


def _derived(hash_key: bytes, purpose: str, name: str) -> bytes:
    return hmac.new(hash_key, f"edm {purpose} {name}".encode(), hashlib.sha256).digest()


def set_key(hash_key: bytes, name: str) -> str:
    """The HMAC key of set ``name``, derived from DETOUR_HASH_KEY (hex)."""
    return _derived(hash_key, "set", name).hex()


def _check(key: str) -> str:
    return hmac.new(bytes.fromhex(key), b"detour edm key check", hashlib.sha256).hexdigest()[:32]


def _wrapped(key: str, hash_key: bytes, name: str) -> str:
    """A set's own key XOR a pad derived from DETOUR_HASH_KEY (both 32 bytes): the same call unwraps it."""
    pad = _derived(hash_key, "wrap", name)
    return bytes(a ^ b for a, b in zip(bytes.fromhex(key), pad, strict=True)).hex()


def save(store: DecisionStore, fingerprints: FingerprintSet, hash_key: bytes) -> None:
    """Keep (or replace) a set; its key is left out when it is the one derived from ``hash_key``."""
    derived = fingerprints.key == set_key(hash_key, fingerprints.name)
    packed = zlib.compress(json.dumps({h: list(ids) for h, ids in fingerprints.index.items()},
                                      separators=(",", ":")).encode(), 6)
    with store.session() as session, session.begin():
        row = session.get(EdmSetRow, fingerprints.name) or EdmSetRow(name=fingerprints.name)
        row.columns, row.records, row.min_fields = list(fingerprints.columns), fingerprints.records, \
            fingerprints.min_fields
        row.key = None if derived else _wrapped(fingerprints.key, hash_key, fingerprints.name)
        row.key_check, row.fingerprints, row.updated = _check(fingerprints.key), packed, datetime.now(UTC)
        session.add(row)


def load(store: DecisionStore, hash_key: bytes) -> list[FingerprintSet]:
    """Every registered set, by name. Raises ``ConfigurationError`` for a set registered under another
    DETOUR_HASH_KEY: it would match nothing, silently."""
    with store.session() as session:
        rows = session.scalars(select(EdmSetRow).order_by(EdmSetRow.name)).all()
    sets = []
    for row in rows:
        key = _wrapped(row.key, hash_key, row.name) if row.key else set_key(hash_key, row.name)
        if not hmac.compare_digest(_check(key), row.key_check):
            raise ConfigurationError(f"EDM set {row.name} was registered under another DETOUR_HASH_KEY: with this "
                                     "one it would match nothing. Set the key it was registered with, or register "
                                     f"it again (detour edm add {row.name} EXPORT.csv --columns …)")
        sets.append(FingerprintSet(row.name, tuple(row.columns), row.records, row.min_fields, key,
                                   {h: tuple(ids) for h, ids in json.loads(zlib.decompress(row.fingerprints)).items()}))
    return sets


def remove(store: DecisionStore, name: str) -> bool:
    with store.session() as session, session.begin():
        row = session.get(EdmSetRow, name)
        if row is None:
            return False
        session.delete(row)
        return True


def move_files(store: DecisionStore, folder: Path, hash_key: bytes) -> int:
    """Move sets kept as files by earlier versions into the store (never over a set the store has); returns
    how many moved."""
    moved = 0
    for path in sorted(folder.glob("*.json")):
        try:
            fingerprints = FingerprintSet.load(path)
        except (OSError, ValueError, KeyError) as problem:
            log.warning("EDM set file %s can't be read (%s); left where it is", path, type(problem).__name__)
            continue
        with store.session() as session:
            present = session.get(EdmSetRow, fingerprints.name) is not None
        if present:
            log.warning("EDM set file %s is not used: the decision store has a set named %s (registered since, or "
                        "by another replica); the file is kept as %s.moved and may be deleted", path,
                        fingerprints.name, path.name)
        else:
            save(store, fingerprints, hash_key)
            log.warning("EDM set %s moved from %s into the decision store (every replica now finds it); the file "
                        "is kept as %s.moved and may be deleted", fingerprints.name, path, path.name)
            moved += 1
        path.rename(path.with_name(path.name + ".moved"))
    return moved
