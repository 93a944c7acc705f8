"""A business justification for a warning: the reason, checked, then recorded with its expiry.

Once recorded, the same file (SHA-256) to the same host from the same person
(the user the proxy named, else the client address) goes through until it
expires (``DETOUR_JUSTIFICATION_MINUTES``); the pipeline marks such a warning
``justified_by``.
"""

from __future__ import annotations

from gateway.errors import BadRequest
from gateway.metadata import Masker
from gateway.records import Action, Justification
from gateway.render.i18n import translator
from gateway.render.pages import DECISIONS
from gateway.store import DecisionStore, StoredDecision
from gateway.store.store import Anonymous

MIN_CHARACTERS = 10
MAX_CHARACTERS = 1000


def justify(store: DecisionStore, masker: Masker, stored: StoredDecision, text: str | None,
            minutes: int) -> Justification:
    """Record ``text`` (masked: people paste the values they send) as the reason for the warning ``stored``;
    ``BadRequest`` says, for people, what is wrong."""
    _ = translator(stored.report.language)
    if stored.report.decision is not Action.WARN:
        raise BadRequest(_("Only a warning can be passed with a reason; this upload was %(decision)s.")
                         % {"decision": _(DECISIONS[stored.report.decision.value])})
    reason = one_line(text, MAX_CHARACTERS)
    if len(reason) < MIN_CHARACTERS:
        raise BadRequest(_("Please say in a sentence why this file needs to go there."))
    try:
        return store.justify(stored.id, masker.text(reason), minutes)
    except Anonymous:
        raise BadRequest(_("Detour does not know who sent this upload (no user and no address), so a reason can't "
                           "be recorded for it. Please use one of the routes offered.")) from None


def one_line(value: object, limit: int) -> str:
    """A form field as one trimmed line of text, at most ``limit`` characters."""
    return " ".join(str(value or "").split())[:limit] if isinstance(value, str) or value is None else ""
