"""The record stage: every decision is written down, and none is lost while the store is down.

``record`` writes the audit line, then hands the decision to a writer thread and
returns: the answer never waits for the store. The writer stores decisions in
batches, in the order they were made. When the store can't be written (down,
locked, unreachable), the batch goes to the spool on local disk (``store.spool``)
and the recorder is *degraded*; the writer keeps trying, replays the spool into
the store oldest first, and only then stores anything newer. A decision that
can't even wait in memory (the queue is full) goes to the spool at once.

Until a decision is in the store, ``pending`` finds it (the decision page then
says it is being recorded). ``health`` says what ``/readyz`` reports.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from alternatives.catalogue import Language
from gateway.records import Inspection
from gateway.render.report import Report
from gateway.store.audit import AuditLog
from gateway.store.metrics import Metrics
from gateway.store.spool import Row, Spool
from gateway.store.store import DecisionStore, StoredDecision, row_of, stored_from_row

log = logging.getLogger(__name__)

QUEUE_ROWS = 10_000  # decisions waiting for the writer in memory; beyond, they go to the spool directly
BATCH_ROWS = 200  # decisions stored in one transaction
RETRY_SECONDS = 2.0  # how often a degraded writer tries the store again
PENDING_ROWS = 20_000  # decisions on their way kept in memory for their pages; older ones are read from the spool
SETTLE_SECONDS = 2.0  # how long a page waits for its decision to reach a store that takes writes


@dataclass(frozen=True)
class Health:
    state: str  # ok | degraded (decisions wait in the spool) | full (the spool refuses: only the audit log has them)
    queued: int
    spooled: int
    error: str | None = None


class Recorder:
    def __init__(self, store: DecisionStore, audit: AuditLog, spool: Spool) -> None:
        self.store = store
        self.audit = audit
        self.spool = spool
        self.keep = True  # False: one-shot commands (detour scan, eval, policy test) leave the store alone
        self._queue: queue.Queue[Row | None] = queue.Queue(maxsize=QUEUE_ROWS)
        self._later: dict[str, Callable[[], dict[Language, Report]]] = {}  # rows whose languages are to come
        self._pending: OrderedDict[str, Row] = OrderedDict()
        self._lock = threading.Lock()
        self._stored = threading.Condition(self._lock)  # notified whenever decisions reach the store
        self._error: str | None = None
        self._full = False
        self.write_failures = 0  # batches the store refused (the metrics count them)
        self._idle = threading.Event()
        self._idle.set()
        self._writer = threading.Thread(target=self._write, name="recorder", daemon=True)
        self._writer.start()
        audit.metrics.sample(self._sample)

    # --- the record stage ------------------------------------------------------------------------------

    def record(self, inspection: Inspection, report: Report, translations: dict[Language, Report],
               later: Callable[[], dict[Language, Report]] | None = None) -> None:
        """Record a decision: its audit line now, its row when the writer gets to it. ``later``: the report in
        more languages, rendered by the writer before the row is stored (off the answer's path)."""
        try:
            self.audit.record(report, inspection)
        except Exception:  # a full disk, a name that can't be encoded: the store still gets the decision
            log.exception("the audit log could not record %s", report.decision_id)
        if not self.keep:
            return
        row = row_of(inspection, report, {str(k): v for k, v in translations.items()})
        with self._lock:
            self._pending[row["id"]] = row
            while len(self._pending) > PENDING_ROWS:
                self._pending.popitem(last=False)
            if later is not None:
                self._later[row["id"]] = later
        self._idle.clear()
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._to_spool([row])

    def _sample(self, metrics: Metrics) -> None:
        """The recorder's and the SIEM's state, for the metrics."""
        health = self.health()
        metrics.queued.set(health.queued)
        metrics.spooled.set(health.spooled)
        metrics.store_up.set(1 if health.state == "ok" else 0)
        metrics.total(metrics.store_failures, self.write_failures)
        for sender in self.audit.siem.senders if self.audit.siem is not None else []:
            metrics.total(metrics.siem_sent, sender.sent, str(sender.target))
            metrics.total(metrics.siem_dropped, sender.dropped, str(sender.target))

    def settle(self, decision_id: str, seconds: float = SETTLE_SECONDS) -> bool:
        """Wait (briefly) for a decision that is queued to reach the store, while the store takes writes:
        the page a person opens right after the answer then shows it whole. True when it is there now."""
        deadline = time.monotonic() + seconds
        with self._stored:
            while decision_id in self._pending and self._error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._stored.wait(left)
            return decision_id not in self._pending

    def pending(self, decision_id: str, language: str | None = None) -> StoredDecision | None:
        """A decision answered but not in the store yet (queued, or spooled while the store was down)."""
        with self._lock:
            row = self._pending.get(decision_id)
        if row is None and len(self.spool):
            row = self.spool.find(decision_id)
        return stored_from_row(row, language) if row is not None else None

    def health(self) -> Health:
        state = "full" if self._full else "degraded" if len(self.spool) or self._error else "ok"
        return Health(state, self._queue.qsize(), len(self.spool), self._error)

    def flush(self, seconds: float = 30.0) -> bool:
        """Wait until every decision so far is in the store or the spool; True when that happened in time."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.wait(0.05):
                return True
        return False

    def close(self) -> None:
        """Store (or spool) what is still queued, then stop the writer."""
        self._queue.put(None)
        self._writer.join(timeout=60)

    # --- the writer --------------------------------------------------------------------------------------

    def _write(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._next_batch()
            if len(self.spool) and not self._replay():
                # the store is still down: whatever waits in memory joins the spool, behind what is there
                self._to_spool(batch + self._drain())
            elif batch:
                self._store(batch)
            if self._queue.empty():
                self._idle.set()

    def _next_batch(self) -> tuple[list[Row], bool]:
        """Up to a batch of queued decisions; waits a moment when there are none (and a spool to retry)."""
        try:
            first = self._queue.get(timeout=RETRY_SECONDS)
        except queue.Empty:
            return [], False
        batch: list[Row] = []
        while first is not None:
            batch.append(first)
            if len(batch) >= BATCH_ROWS:
                return batch, False
            try:
                first = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True  # None: close() asked the writer to stop after this

    def _drain(self) -> list[Row]:
        rows: list[Row] = []
        while True:
            try:
                row = self._queue.get_nowait()
            except queue.Empty:
                return rows
            if row is None:  # close() is waiting: it comes back on the next round
                self._queue.put(None)
                return rows
            rows.append(row)

    def _complete(self, rows: list[Row]) -> None:
        """Render the languages still to come of these rows (the report itself is always there)."""
        for row in rows:
            with self._lock:
                later = self._later.pop(row["id"], None)
            if later is None:
                continue
            try:
                more = {str(lang): report.model_dump(mode="json") for lang, report in later().items()}
            except Exception:  # the decision is recorded in its own language whatever happens here
                log.exception("decision %s could not be rendered in the other languages", row["id"])
                continue
            row["translations"] = {**(row.get("translations") or {}), **more}

    def _store(self, batch: list[Row]) -> None:
        self._complete(batch)
        try:
            self.store.insert(batch)
        except Exception as exc:
            self._failed(exc)
            self._to_spool(batch)
            return
        self._recovered()
        self._forget(batch)

    def _replay(self) -> bool:
        """Write the spool into the store, oldest first; True when it is empty afterwards."""
        replayed = 0
        try:
            for chunk in self.spool.chunks():
                rows = [row for row in chunk if row]
                self.store.insert(rows)
                replayed += len(chunk)
                self._forget(rows)
        except Exception as exc:
            self._failed(exc)
            if replayed:
                self.spool.clear(replayed)
            return False
        self.spool.clear(replayed)
        log.warning("the decision store is back: %d spooled decisions recorded", replayed)
        self._recovered()
        return True

    def _to_spool(self, rows: list[Row]) -> None:
        if not rows:
            return
        self._complete(rows)
        if self.spool.append(rows):
            self._full = False
            return
        if not self._full:
            log.critical("the spool is full (DETOUR_SPOOL_MB): decisions are now only in the audit log")
        self._full = True

    def _failed(self, exc: Exception) -> None:
        self.write_failures += 1
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        if self._error is None:  # one line when the store goes away, not one per decision
            log.error("the decision store can't be written (%s); decisions go to the spool", error)
        self._error = error

    def _recovered(self) -> None:
        self._error = None
        self._full = False

    def _forget(self, rows: list[Row]) -> None:
        with self._stored:
            for row in rows:
                self._pending.pop(row["id"], None)
            self._stored.notify_all()
