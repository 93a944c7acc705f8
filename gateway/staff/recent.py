"""A person's recent stops: their decisions of the last 30 days and what became of each, on one page.

The page is reached from a decision's own page through a link that carries a signed, expiring token for
the identity that decision was sent under: the user the proxy or the extension named (the keyed hash the
store keeps, never the name). Nothing else opens it: the token can't be guessed or changed (an HMAC under a
key derived from DETOUR_HASH_KEY, so every replica accepts it), it expires, and it lists only decisions
sent under that same identity. Decisions known only by an address get no link: an address may be many
people's.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

RECENT_DAYS = 30  # how far back the page looks
LINK_HOURS = 24  # how long a link works
MAX_LISTED = 200  # decisions on the page at most


@dataclass(frozen=True)
class Opened:
    """What a link opens: the identity, or why not."""

    who: str | None
    expired: bool = False


class RecentLinks:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def issue(self, who: str, now: datetime | None = None) -> str:
        expires = int(((now or datetime.now(UTC)) + timedelta(hours=LINK_HOURS)).timestamp())
        body = f"{who}.{expires}"
        return f"{body}.{self._sign(body)}"

    def open(self, token: object, now: datetime | None = None) -> Opened:
        if not isinstance(token, str) or len(token) > 200 or token.count(".") != 2:
            return Opened(None)
        who, expires, signature = token.split(".")
        if not hmac.compare_digest(signature.encode(), self._sign(f"{who}.{expires}").encode()):
            return Opened(None)
        if not expires.isdigit() or int(expires) < (now or datetime.now(UTC)).timestamp():
            return Opened(None, expired=True)
        return Opened(who)

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, b"recent:" + body.encode(), hashlib.sha256).hexdigest()[:40]
