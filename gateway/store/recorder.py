"""The record stage: every decision is written down, the audit line always, the decision store when it can be.

A store that cannot be written (down, locked) must not turn a decision into an
error for the person waiting: the failure is logged and the audit line stands.
"""

from __future__ import annotations

import logging

from alternatives.catalogue import Language
from gateway.records import Inspection
from gateway.render.report import Report
from gateway.store.audit import AuditLog
from gateway.store.store import DecisionStore

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, store: DecisionStore, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit

    def record(self, inspection: Inspection, report: Report, translations: dict[Language, Report]) -> None:
        try:
            self.audit.record(report, inspection.upload)
        except Exception:  # a full disk, a name that can't be encoded: the store still gets the decision
            log.exception("the audit log could not record %s", report.decision_id)
        try:
            self.store.record(inspection, report, {str(k): v for k, v in translations.items()})
        except Exception:
            log.exception("the decision store could not record %s", report.decision_id)
