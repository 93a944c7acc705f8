"""The helpdesk webhook: tickets, review requests and "looks wrong" reports, POSTed as generic JSON.

Messages go through an outbox in the decision store (``tickets``): each is
stored first, then delivered at once; a helpdesk that is down or answers with
an error gets it again later (1 min, 5 min, 30 min, 2 h, 12 h), after which it
is marked failed. A message carries the reference and masked details only,
never a matched value. Deliveries are signed when a secret is set:
``X-Detour-Signature: sha256=<HMAC-SHA256 of the body>``. Mapping examples for
common service desks: docs/helpdesk-webhook.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta
from typing import Any

import httpx

from gateway.render.report import Report, display_name
from gateway.store import DecisionStore, StoredDecision

log = logging.getLogger(__name__)

RETRIES = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
           timedelta(hours=12))
REMOTE_ID_KEYS = ("number", "key", "id", "ticket_id", "reference")
USER_AGENT = "Detour/0.1 (helpdesk webhook)"


def payload(event: str, stored: StoredDecision, public_url: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The message: what happened, to whom, the reference and a link; counts and masked examples only."""
    report: Report = stored.report
    host = report.destination.host or report.destination.url
    summaries = {"ticket": f"Upload stopped: {display_name(report.file)} to {host} ({report.decision_id})",
                 "review_request": f"Review request: {extra.get('tool') or host} ({report.decision_id})",
                 "wrong_report": f"Decision looks wrong: {display_name(report.file)} to {host} "
                                 f"({report.decision_id})",
                 "review_declined": f"Review request declined: {extra.get('tool') or host} ({report.decision_id})",
                 "review_approved": f"Review request approved: {host} ({report.decision_id})",
                 "report_answered": f"'Looks wrong' report {extra.get('status')}: {display_name(report.file)} to "
                                    f"{host} ({report.decision_id})"}
    return {
        "event": event,
        "reference": report.decision_id,
        "summary": summaries[event],
        "message": report.helpdesk.message,
        "page": f"{public_url.rstrip('/')}/d/{report.decision_id}" if public_url else None,
        "requester": {"user": report.user, "group": report.group, "client_ip": stored.history.client_ip},
        "decision": {
            "action": report.decision.value,
            "time": stored.history.created.isoformat(timespec="seconds"),
            "destination": report.destination.url,
            "destination_host": report.destination.host,
            "destination_category": report.destination.category,
            "file_name": display_name(report.file),
            "size": report.size,
            "sha256": report.sha256,
            "file_type": report.file_type.mime,
            "rules": [reason.rule for reason in report.reasons],
            "reasons": [reason.message for reason in report.reasons],
            "data_classes": [{"id": d.id, "count": d.count, "distinct": d.distinct, "people": d.people}
                             for d in report.data_classes],
            "findings": [f.model_dump(include={"type", "count", "distinct", "examples"}) for f in report.findings],
            "alternatives_offered": [a.id for a in report.alternatives],
            "routes_taken": list(stored.history.routes_taken),
            "partial": report.scan.partial,
            "policy": {"name": report.policy.name, "version": report.policy.version},
        },
        **extra,
    }


class HelpdeskWebhook:
    def __init__(self, url: str, secret: str | None, timeout: float, store: DecisionStore) -> None:
        self.url = url
        self.secret = secret.encode() if secret else None
        self.timeout = timeout
        self.store = store

    def submit(self, decision_id: str, event: str, message: dict[str, Any]) -> int:
        """Store the message in the outbox and try to deliver it now; returns the ticket's id."""
        ticket_id = self.store.add_ticket(decision_id, event, message)
        self.deliver(ticket_id, event, message, attempts=0)
        return ticket_id

    def deliver_due(self) -> int:
        """Deliver what is due in the outbox (called periodically); returns how many were sent."""
        return sum(self.deliver(t.id, t.event, t.payload, t.attempts) for t in self.store.due_tickets())

    def deliver(self, ticket_id: int, event: str, message: dict[str, Any], attempts: int) -> bool:
        body = json.dumps({**message, "delivery": ticket_id}, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Detour-Event": event,
                   "X-Detour-Delivery": str(ticket_id)}
        if self.secret is not None:
            headers["X-Detour-Signature"] = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        error: str | None
        try:
            response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout,
                                  follow_redirects=False)
            if response.is_success:
                self.store.ticket_attempted(ticket_id, sent=True, remote_id=_remote_id(response))
                return True
            error = f"HTTP {response.status_code}"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"
        retry_in = RETRIES[attempts] if attempts < len(RETRIES) else None
        log.warning("helpdesk webhook delivery %s failed (%s); %s", ticket_id, error,
                    f"retrying in {retry_in}" if retry_in else "giving up")
        self.store.ticket_attempted(ticket_id, sent=False, error=error, retry_in=retry_in)
        return False


def _remote_id(response: httpx.Response) -> str | None:
    """The helpdesk's own ticket number, when its answer names one (e.g. ServiceNow's result.number)."""
    try:
        answer = response.json()
    except ValueError:
        return None
    for candidate in (answer, answer.get("result") if isinstance(answer, dict) else None):
        if isinstance(candidate, dict):
            for key in REMOTE_ID_KEYS:
                value = candidate.get(key)
                if isinstance(value, str | int) and not isinstance(value, bool):
                    return str(value)
    return None
