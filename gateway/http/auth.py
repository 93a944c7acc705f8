"""Who is asking: API callers and their client tokens.

``Authorization: Bearer dtr_…`` names an API client (``detour client token create``).
With ``DETOUR_API_AUTH=required`` (the default in production) a call to ``/v1/…``
without a valid token is answered 401; with ``optional`` a call without one is
taken as anonymous. A token that is not valid (unknown, revoked, expired) is 401
in both: a wrong token never quietly becomes anonymous.

Only a client allowed to assert users (``--may-assert-user``: a proxy add-on or
portal that knows who is browsing) may say on whose behalf it sends: the user,
the group and the person's address (``X-Detour-User``, ``X-Detour-Group``,
``X-Detour-Client-Ip``, a form's ``user`` and ``group``). Any other caller that
names one is answered 403, and what is recorded as the sender is the address the
call came from: the person a justification belongs to can't be claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from gateway.errors import DetourError
from gateway.http.deps import RuntimeDep
from gateway.records import Channel, Envelope
from gateway.store.clients import ApiClient, ClientsUnavailable

SCHEME = "bearer"


class Unauthenticated(DetourError):
    """No valid client token: answered 401 with ``WWW-Authenticate: Bearer``."""


class NotAllowed(DetourError):
    """The client may not do what it asked: answered 403."""


class ClientsUnknown(DetourError):
    """Tokens can't be checked just now (the store is down): answered 503 with ``Retry-After``."""


@dataclass(frozen=True)
class Caller:
    """Who calls the API: the client its token names (None: anonymous), and the address the call came from."""

    client: ApiClient | None
    address: str | None

    @property
    def may_assert_user(self) -> bool:
        return self.client is not None and self.client.may_assert_user

    def sender(self, channel: Channel, user: str | None = None, group: str | None = None,
               client_ip: str | None = None) -> Envelope:
        """The sender of what this caller uploads (file name and destination are each upload's). Raises
        ``NotAllowed`` when the caller names a user, group or address it may not assert."""
        named = [what for what, value in (("user", user), ("group", group), ("client address", client_ip)) if value]
        if named and not self.may_assert_user:
            whose = f"The API client {self.client.name!r}" if self.client else "A caller without a client token"
            raise NotAllowed(f"{whose} may not say on whose behalf it sends ({', '.join(named)}). Leave it out, or "
                             "ask IT for a client token made with --may-assert-user.")
        return Envelope("", user=user or None, group=group or None, channel=channel,
                        client_ip=(client_ip or self.address or "")[:64] or None,
                        api_client=self.client.name if self.client else None)


async def api_caller(request: Request, runtime: RuntimeDep) -> Caller:
    """The caller of an API route, checked against the setting ``DETOUR_API_AUTH``."""
    address = request.client.host if request.client else None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not scheme:
        if runtime.settings.api_auth_required:
            raise Unauthenticated("This API needs a client token: send Authorization: Bearer <token>. IT makes "
                                  "one with: detour client token create NAME")
        return Caller(None, address)
    if scheme.lower() != SCHEME or not token.strip():
        raise Unauthenticated("Send the client token as Authorization: Bearer <token>.")
    try:
        client = await run_in_threadpool(runtime.clients.find, token.strip())
    except ClientsUnavailable as exc:
        raise ClientsUnknown(str(exc)) from exc
    if client is None:
        raise Unauthenticated("This client token is not valid (unknown, revoked or expired). Ask IT for a new one: "
                              "detour client token create NAME")
    return Caller(client, address)


CallerDep = Annotated[Caller, Depends(api_caller)]
