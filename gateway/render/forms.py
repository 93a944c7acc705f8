"""Form tokens: every form on a decision's page carries one, made for that decision, so a form posted from
another site (cross-site request forgery) is refused.

A token is an HMAC of the decision id under the runtime's key: nothing is stored, any replica with the
same key (``DETOUR_HASH_KEY``) accepts it, and it is useless for any other decision. The page a proxy
answers in a destination's name carries one too, for its justification form.
"""

from __future__ import annotations

import hashlib
import hmac


class FormTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, decision_id: str) -> str:
        return hmac.new(self._key, b"form:" + decision_id.encode(), hashlib.sha256).hexdigest()[:32]

    def valid(self, decision_id: str, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(token.encode(), self.issue(decision_id).encode())

    def derived(self, purpose: str) -> str:
        """A secret for another purpose (the console's session cookie), from the same key: every replica with
        the same DETOUR_HASH_KEY derives the same one."""
        return hmac.new(self._key, b"derive:" + purpose.encode(), hashlib.sha256).hexdigest()
