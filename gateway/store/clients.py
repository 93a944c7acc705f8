"""API clients and their tokens: who may call Detour's API, and whether it may say on whose behalf.

A token is 32 random bytes (``dtr_`` + URL-safe base64), shown once when it is
made and kept only as its SHA-256. The clients (a handful: proxy add-ons,
portals, scripts) are read from the store into memory and read again when the
copy is older than ``REFRESH_SECONDS``: a token revoked or expired stops working
within that time, and checking a token costs no query. A token the copy does not
know is looked for again at once (at most once every ``MISS_SECONDS``), so a new
or rotated token works as soon as the CLI has printed it. While the store can't
be read the last copy is used (uploads go on during a database outage); before
any copy was read, ``ClientsUnavailable``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from gateway.errors import DetourError
from gateway.store.models import ClientRow
from gateway.store.store import DecisionStore

log = logging.getLogger(__name__)

PREFIX = "dtr_"
REFRESH_SECONDS = 10.0
MISS_SECONDS = 1.0  # an unknown token re-reads the clients at most this often (a flood of wrong ones costs little)
MAX_TOKEN_CHARS = 200
MAX_DAYS = 3660


@dataclass(frozen=True)
class ApiClient:
    name: str
    may_assert_user: bool


@dataclass(frozen=True)
class ClientListing:
    name: str
    may_assert_user: bool
    created: datetime
    expires: datetime | None
    revoked: datetime | None


class ClientsUnavailable(DetourError):
    """The store can't be read and the token was not seen lately: nobody can tell whose it is."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiClients:
    def __init__(self, store: DecisionStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._by_digest: dict[str, tuple[ApiClient, datetime | None]] | None = None  # digest → client, expiry
        self._read_at = 0.0
        self._missed = -MISS_SECONDS
        self._warned = False

    def create(self, name: str, may_assert_user: bool, days: int | None = None) -> str:
        """A new client and its token (shown only now). Raises ``DetourError`` for a name in use."""
        name = name.strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise DetourError("give the client a name of 1 to 100 printable characters")
        if days is not None and not 1 <= days <= MAX_DAYS:
            raise DetourError(f"a token lasts 1 to {MAX_DAYS} days (or leave --days out: until it is revoked)")
        token = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.store.session() as session, session.begin():
            if session.scalars(select(ClientRow.id).where(ClientRow.name == name)).first() is not None:
                raise DetourError(f"a client named {name!r} exists already; choose another name")
            session.add(ClientRow(name=name, token_sha256=_digest(token), may_assert_user=may_assert_user,
                                  created=now, expires=now + timedelta(days=days) if days else None))
        self._forget()
        return token

    def rotate(self, name: str, days: int | None = None) -> str:
        """A new token for a client that is not revoked; its old token stops working (within
        ``REFRESH_SECONDS`` on other instances). ``days``: the new token's lifetime (else the old expiry
        stays; a client that has expired needs one)."""
        if days is not None and not 1 <= days <= MAX_DAYS:
            raise DetourError(f"a token lasts 1 to {MAX_DAYS} days")
        token = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.store.session() as session, session.begin():
            row = session.scalars(select(ClientRow).where(ClientRow.name == name, ClientRow.revoked.is_(None))).first()
            if row is None:
                raise DetourError(f"no client named {name!r} that is not revoked (see: detour client list)")
            expires = _aware(row.expires)
            if days is None and expires is not None and expires <= now:
                raise DetourError(f"{name!r} expired on {expires:%Y-%m-%d}; give the new token a lifetime: "
                                  f"detour client token rotate {name} --days N")
            row.token_sha256 = _digest(token)
            if days is not None:
                row.expires = now + timedelta(days=days)
        self._forget()
        return token

    def revoke(self, name: str) -> None:
        with self.store.session() as session, session.begin():
            done = session.execute(update(ClientRow).where(ClientRow.name == name, ClientRow.revoked.is_(None))
                                   .values(revoked=datetime.now(UTC)))
        if not done.rowcount:  # type: ignore[attr-defined]
            raise DetourError(f"no client named {name!r} that is not revoked already (see: detour client list)")
        self._forget()

    def listing(self) -> list[ClientListing]:
        with self.store.session() as session:
            rows = session.scalars(select(ClientRow).order_by(ClientRow.name)).all()
            return [ClientListing(r.name, r.may_assert_user, _aware(r.created) or r.created, _aware(r.expires),
                                  _aware(r.revoked)) for r in rows]

    def refresh(self) -> None:
        """Read the clients now (at start-up, so that an outage later finds them known). Raises
        ``ClientsUnavailable`` when the store can't be read and they were never read."""
        self._forget()
        self._clients()

    def find(self, token: str) -> ApiClient | None:
        """The client a token belongs to, when it is neither revoked nor expired."""
        if not token.startswith(PREFIX) or len(token) > MAX_TOKEN_CHARS:
            return None
        digest = _digest(token)
        found = self._clients().get(digest)
        if found is None and self._may_look_again():
            found = self._clients().get(digest)
        if found is None:
            return None
        client, expires = found
        return client if expires is None or expires > datetime.now(UTC) else None

    def _clients(self) -> dict[str, tuple[ApiClient, datetime | None]]:
        with self._lock:
            if self._by_digest is not None and time.monotonic() - self._read_at < REFRESH_SECONDS:
                return self._by_digest
            try:
                with self.store.session() as session:
                    rows = session.scalars(select(ClientRow).where(ClientRow.revoked.is_(None))).all()
                    self._by_digest = {r.token_sha256: (ApiClient(r.name, r.may_assert_user), _aware(r.expires))
                                       for r in rows}
                self._warned = False
            except Exception as exc:
                if self._by_digest is None:
                    raise ClientsUnavailable("the decision store can't be read, so API tokens can't be checked") \
                        from exc
                if not self._warned:
                    log.warning("API clients: the store can't be read; using the clients read before")
                    self._warned = True
            self._read_at = time.monotonic()
            return self._by_digest

    def _may_look_again(self) -> bool:
        """Whether an unknown token may make the clients be read again now (and if so, they will be)."""
        with self._lock:
            now = time.monotonic()
            if now - self._missed < MISS_SECONDS:
                return False
            self._missed, self._read_at = now, 0.0
            return True

    def _forget(self) -> None:
        with self._lock:
            self._read_at = 0.0


def _aware(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=UTC)
