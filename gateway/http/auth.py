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
from typing import Annotated, cast

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import BadRequest, DetourError
from gateway.http.answers import error
from gateway.records import Channel, Envelope
from gateway.runtime import Runtime
from gateway.settings import valid_address
from gateway.store.clients import ApiClient, ClientsUnavailable

SCHEME = "bearer"
API_PREFIX = "/v1/"
ADMIN_PREFIX = "/v1/admin/"
STATE_KEY = "caller"


class Unauthenticated(DetourError):
    """No valid client or admin token: answered 401 with ``WWW-Authenticate: Bearer``."""


class NotAllowed(DetourError):
    """The client may not do what it asked: answered 403."""


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
        if client_ip and valid_address(client_ip) is None:
            raise BadRequest("X-Detour-Client-Ip must be the person's IP address.")
        return Envelope("", user=user or None, group=group or None, channel=channel,
                        client_ip=valid_address(client_ip) or self.address,
                        api_client=self.client.name if self.client else None)


class ApiCallers:
    """ASGI middleware: every call to ``/v1/…`` is identified before its body is read (a caller without a
    valid token is answered at once, whatever it declares it will send); routes get the ``Caller``."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX) or \
                scope["path"].startswith(ADMIN_PREFIX):  # the admin API checks admin tokens itself
            await self.app(scope, receive, send)
            return
        try:
            caller = await identify(Headers(scope=scope), scope.get("client"), self.runtime)
        except Unauthenticated as problem:
            answer = error(401, "unauthenticated", str(problem), {"WWW-Authenticate": 'Bearer realm="detour"'})
        except ClientsUnavailable as problem:
            answer = error(503, "unavailable", f"{problem}; try again in a moment.", {"Retry-After": "5"})
        else:
            scope.setdefault("state", {})[STATE_KEY] = caller
            await self.app(scope, receive, send)
            return
        await answer(scope, receive, send)


async def identify(headers: Headers, client: tuple[str, int] | None, runtime: Runtime) -> Caller:
    """The caller, checked against the setting ``DETOUR_API_AUTH``; raises ``Unauthenticated``."""
    address = valid_address(client[0]) if client else None
    if "authorization" not in headers:
        if runtime.settings.api_auth_required:
            raise Unauthenticated("This API needs a client token: send Authorization: Bearer <token>. IT makes "
                                  "one with: detour client token create NAME")
        return Caller(None, address)
    scheme, _, token = headers["authorization"].strip().partition(" ")
    if scheme.lower() != SCHEME or not token.strip():
        raise Unauthenticated("Send the client token as Authorization: Bearer <token>.")
    client_found = await run_in_threadpool(runtime.clients.find, token.strip())
    if client_found is None:
        raise Unauthenticated("This client token is not valid (unknown, revoked or expired). Ask IT for a new one: "
                              "detour client token create NAME")
    return Caller(client_found, address)


def api_caller(request: Request) -> Caller:
    """The caller ``ApiCallers`` identified (every ``/v1/`` route has one)."""
    return cast(Caller, request.state.caller)


CallerDep = Annotated[Caller, Depends(api_caller)]
