"""The audit record: every decision is written down, with masked data only.

One JSON line per decision, to the ``detour.audit`` logger and, when
``DETOUR_AUDIT_LOG`` is set, to that file; with ``DETOUR_SYSLOG``, each decision
and admin event also goes to the SIEM (``store.siem``: CEF or OCSF over syslog).
Nothing here can hold a raw matched value: it is built from the ``Report``,
which only carries masked examples.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.records import Inspection
from gateway.render.report import Report
from gateway.store.metrics import Metrics
from gateway.store.siem import Siem

log = logging.getLogger("detour.audit")


class AuditLog:
    def __init__(self, path: Path | None = None, siem: Siem | None = None, metrics: Metrics | None = None) -> None:
        self.path = path
        self.siem = siem  # syslog targets (CEF, OCSF) that get each decision and admin event
        self.metrics = metrics or Metrics()  # counted as decisions are recorded (GET /metrics)
        self._lock = threading.Lock()

    def record(self, report: Report, inspection: Inspection) -> dict[str, Any]:
        upload, decision = inspection.upload, inspection.decision
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "decision_id": report.decision_id,
            "decision": report.decision.value,
            "channel": upload.channel.value,
            "client_ip": upload.client_ip,
            "api_client": upload.api_client,
            "user": report.user,
            "group": report.group,
            "destination": report.destination.url,
            "destination_host": report.destination.host,
            "destination_category": report.destination.category,
            "file": report.file,
            "size": report.size,
            "sha256": report.sha256,
            "file_type": report.file_type.mime,
            "rules": [r.rule for r in report.reasons],
            "data_classes": {d.id: {"count": d.count, "distinct": d.distinct, "people": d.people}
                             for d in report.data_classes},
            "findings": [f.model_dump(include={"type", "count", "distinct", "examples"}) for f in report.findings],
            "alternatives": [a.id for a in report.alternatives],
            "partial": report.scan.partial,
            "justified_by": report.justified_by,
            "policy": report.policy.digest,
            "would": decision.would.value if decision.would else None,  # rules in monitor mode
            "monitored_rules": [r.rule for r in decision.monitored],
        }
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        log.info(line)
        self.metrics.decision(inspection, upload.channel.value)
        if self.siem is not None:
            self.siem.decision(entry)
        if self.path is not None:
            with self._lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        return entry

    def admin(self, actor: str, role: str, action: str, target: str | None, client_ip: str | None) -> None:
        """What an admin did (the admin API, the console), for the SIEM; the store keeps it too (admin_actions).
        Without the action's details: a decline's reason is free text."""
        if self.siem is not None:
            self.siem.admin({"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "actor": actor,
                             "role": role, "action": action, "target": target, "client_ip": client_ip})

    def close(self) -> None:
        if self.siem is not None:
            self.siem.close()
