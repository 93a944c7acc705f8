"""Exact data match (EDM): find records of a registered dataset, storing only salted hashes.

IT registers an export of, say, the customer database (``detour edm add``).
Each chosen cell is normalised and hashed with a key kept in the fingerprint
set; the raw values are never stored. An upload record (a row, a JSON object, a
line) that holds ``min_fields`` values of one registered record is a match,
even when nothing in it looks like an e-mail address or a phone number.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ENTITY_PREFIX = "EDM:"
NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
_SPLIT = re.compile(r"[\t,;|]")


def normalize(value: str) -> str:
    """Case, spacing and phone formatting do not matter: 'Anna  Berg' = 'anna berg', '+46 70-1' = '46701'."""
    text = " ".join(value.casefold().split())
    text = text.split(": ", 1)[1] if re.match(r"^[\w .\-]{1,40}: ", text) else text  # JSON 'key: value' cells
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 6 and len(digits) >= len(re.sub(r"[\s+()\-./]", "", text)):
        return digits
    return text


@dataclass(frozen=True)
class FingerprintSet:
    name: str
    columns: tuple[str, ...]
    records: int
    min_fields: int
    key: str  # hex; the HMAC key of this set's hashes
    index: Mapping[str, tuple[int, ...]]  # value hash -> ids of the records holding that value

    @property
    def entity(self) -> str:
        return ENTITY_PREFIX + self.name

    def digest(self, value: str) -> str:
        return hmac.new(bytes.fromhex(self.key), normalize(value).encode(), hashlib.sha256).hexdigest()[:32]

    def save(self, path: Path) -> None:
        data = {"name": self.name, "columns": list(self.columns), "records": self.records,
                "min_fields": self.min_fields, "key": self.key,
                "index": {h: list(ids) for h, ids in self.index.items()}}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)  # key and hashes together can be tested against guesses: keep it private
        path.write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FingerprintSet:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["name"], tuple(data["columns"]), int(data["records"]), int(data["min_fields"]), data["key"],
                   {h: tuple(ids) for h, ids in data["index"].items()})


def build(name: str, rows: Iterable[Mapping[str, str]], columns: Sequence[str], min_fields: int = 2,
          key: str | None = None) -> FingerprintSet:
    """The set of ``rows``' values in ``columns``, hashed with ``key`` (hex; default: a random one)."""
    if not NAME.match(name):
        raise ValueError("the name must be lower-case letters, digits, '-' or '_'")
    key = key or secrets.token_hex(32)
    probe = FingerprintSet(name, tuple(columns), 0, min_fields, key, {})
    index: dict[str, list[int]] = defaultdict(list)
    records = 0
    for record_id, row in enumerate(rows):
        records += 1
        for column in columns:
            value = (row.get(column) or "").strip()
            if len(normalize(value)) >= 3:  # too short to mean anything on its own
                index[probe.digest(value)].append(record_id)
    if records == 0:
        raise ValueError("the export has no rows")
    return FingerprintSet(name, tuple(columns), records, min(min_fields, len(columns)), key,
                          {h: tuple(ids) for h, ids in index.items()})


def matches(fingerprints: FingerprintSet, record_text: str) -> set[int]:
    """Ids of registered records of which ``record_text`` (one upload record) holds at least min_fields values."""
    pieces = {p.strip() for p in _SPLIT.split(record_text) if p.strip()}
    hits: dict[int, int] = defaultdict(int)
    for digest in {fingerprints.digest(p) for p in pieces}:
        for record_id in fingerprints.index.get(digest, ()):
            hits[record_id] += 1
    return {record_id for record_id, count in hits.items() if count >= fingerprints.min_fields}
