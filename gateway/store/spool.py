"""The spool: decisions the store could not take yet, kept on local disk until it can.

JSON lines in ``DETOUR_DATA_DIR/spool/decisions.jsonl``, appended in the order the
decisions were made and flushed to disk (fsync) before ``append`` returns, so a
decision that reached the spool survives a crash of Detour. The recorder replays
the spool into the store, oldest first, before anything newer; the store skips a
decision it already holds, so a replay cut short and done again writes each one
once. The spool is bounded (``DETOUR_SPOOL_MB``): a full spool refuses, and the
recorder says so (``/readyz`` is then not ready) — the audit log still has the
line of every decision.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Row = dict[str, Any]
CHUNK_ROWS = 200  # rows replayed in one store transaction


class Spool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._rows = sum(1 for _ in self._lines()) if path.exists() else 0

    def __len__(self) -> int:
        return self._rows

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def append(self, rows: Sequence[Row]) -> bool:
        """Keep ``rows`` on disk, in order; False (nothing kept) when they would make the spool too large."""
        data = "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows).encode()
        with self._lock:
            if self.size + len(data) > self.max_bytes:
                return False
            with self.path.open("ab") as spool:
                spool.write(data)
                spool.flush()
                os.fsync(spool.fileno())
            self._rows += len(rows)
            return True

    def chunks(self) -> Iterator[list[Row]]:
        """The rows, oldest first, a store transaction's worth at a time."""
        chunk: list[Row] = []
        for line in self._lines():
            try:
                chunk.append(json.loads(line))
            except ValueError:  # a line torn by a crash while it was written: nothing to replay
                log.error("the spool holds a damaged line; it is skipped (the audit log has the decision)")
                chunk.append({})
                continue
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def find(self, decision_id: str) -> Row | None:
        """A spooled decision by its reference (the page of a decision on its way to the store)."""
        return find_in(self.path, decision_id)

    def clear(self, replayed: int) -> None:
        """Forget the first ``replayed`` rows (they are in the store); rows appended meanwhile stay."""
        with self._lock:
            lines = list(self._lines())[replayed:]
            temporary = self.path.with_suffix(".tmp")
            with temporary.open("w", encoding="utf-8") as rest:
                rest.writelines(line + "\n" for line in lines)
                rest.flush()
                os.fsync(rest.fileno())
            temporary.replace(self.path)
            self._rows = len(lines)

    def _lines(self) -> Iterator[str]:
        return _lines(self.path)


def find_in(path: Path, decision_id: str) -> Row | None:
    """A decision in the spool at ``path`` (this worker's, or another worker's: read only)."""
    needle = f'"id":"{decision_id}"'
    for line in _lines(path):
        if needle in line:
            try:
                row: Row = json.loads(line)
            except ValueError:  # being written by its worker
                continue
            if row.get("id") == decision_id:
                return row
    return None


def adopt(folder: Path, keep: Path, workers: int) -> int:
    """Move the rows of spools no worker will replay (left by more workers than now run) to the end of ``keep``;
    called before the workers start. Returns how many rows moved."""
    moved = 0
    for orphan in sorted(folder.glob("decisions-*.jsonl")):
        number = orphan.stem.removeprefix("decisions-")
        if not number.isdigit() or int(number) < workers:
            continue
        rows = list(_lines(orphan))
        if rows:
            with keep.open("a", encoding="utf-8") as spool:
                spool.writelines(row + "\n" for row in rows)
                spool.flush()
                os.fsync(spool.fileno())
        orphan.unlink()
        moved += len(rows)
    return moved


def _lines(path: Path) -> Iterator[str]:
    try:
        spool = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with spool:
        for line in spool:
            if line.strip():
                yield line.rstrip("\n")
