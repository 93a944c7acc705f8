"""``/admin``: IT's console, for people. Sign-in through the organisation's OpenID Connect provider
(authorization code with PKCE, Authlib): the provider's group claim gives the console role
(``DETOUR_OIDC_ROLES``: ``it-security=reviewer,it-admins=policy_admin``; the highest wins; no role: no entry).

The session is a signed cookie (``detour_console``: HttpOnly, SameSite=Lax, Secure when Detour is reached
over HTTPS) that ends after ``DETOUR_ADMIN_SESSION_MINUTES`` without a request, and after 12 hours whatever
happens. Every form carries the session's CSRF token, and a POST from another origin is refused. Pages:
the dashboard, decisions (filters, export), review requests (approve as an exception that expires, or decline),
exceptions (revoke), the record of admin actions. Every action is recorded, as in the admin API.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from alternatives.catalogue import Language
from gateway.errors import BadRequest, ConfigurationError, DetourError, PolicyError
from gateway.http.deps import RuntimeDep
from gateway.http.routes import admin as api
from gateway.render.console import STATUSES, render_console
from gateway.render.i18n import negotiate, parse_language, translator
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import admin as store_admin
from gateway.store import exemptions as store_exemptions
from gateway.store import versions as store_versions
from gateway.store.admin import Admin, DecisionFilter, Role

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin", include_in_schema=False)

ItemId = Annotated[int, Path(ge=1, le=api.MAX_ID)]
SESSION_COOKIE = "detour_console"
ABSOLUTE_SECONDS = 12 * 3600
PROVIDER = "detour"


def roles(text: str) -> dict[str, Role]:
    """``group=role,…`` as a mapping; raises ``ConfigurationError`` for a role that does not exist."""
    mapping: dict[str, Role] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        group, _, role = pair.rpartition("=")
        try:
            mapping[group.strip()] = Role(role.strip())
        except ValueError:
            raise ConfigurationError(f"DETOUR_OIDC_ROLES: {pair!r} is not group=role with a role of "
                                     f"{', '.join(r.value for r in Role)}") from None
    return mapping


def role_of(groups: object, mapping: dict[str, Role]) -> Role | None:
    """The highest role the person's groups give (a claim is a list, or one string)."""
    named = [groups] if isinstance(groups, str) else list(groups) if isinstance(groups, list | tuple) else []
    given = [mapping[g] for g in named if isinstance(g, str) and g in mapping]
    return max(given, key=lambda r: r.rank) if given else None


def configure(app: Any, settings: Settings) -> None:
    """Register the provider (when sign-in is set up) on the app: ``app.state.oauth``."""
    app.state.oauth = None
    app.state.roles = roles(settings.oidc_roles)
    if not settings.oidc_issuer:
        return
    if not settings.oidc_client_id:
        raise ConfigurationError("DETOUR_OIDC_ISSUER is set: set DETOUR_OIDC_CLIENT_ID (and the secret) too")
    oauth = OAuth()
    oauth.register(PROVIDER, client_id=settings.oidc_client_id,
                   client_secret=settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret
                   else None,
                   server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
                   client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                                  "timeout": 10.0})
    app.state.oauth = oauth


# --- the session --------------------------------------------------------------------------------------------


class SignInFirst(Exception):  # noqa: N818 - an answer, not an error
    """No session: the person is sent to sign in, and back here afterwards."""


def signed_in(request: Request, runtime: Runtime) -> Admin | None:
    """The person signed in on this session, if the session still holds (idle and absolute timeouts)."""
    person = request.session.get("person")
    if not isinstance(person, dict):
        return None
    now = time.time()
    idle = runtime.settings.admin_session_minutes * 60
    if now - float(person.get("seen", 0)) > idle or now - float(person.get("since", 0)) > ABSOLUTE_SECONDS:
        request.session.clear()
        return None
    person["seen"] = now
    request.session["person"] = person
    return Admin(str(person["name"]), Role(person["role"]))


async def needs(request: Request, runtime: Runtime, role: Role) -> Admin:
    admin = signed_in(request, runtime)
    if admin is not None and await api.stored(store_admin.signed_out_since, runtime.store, admin.name,
                                              float(request.session["person"]["since"])):
        request.session.clear()  # signed out (on any device) since this session began: a copied cookie is dead
        admin = None
    if admin is None:
        raise SignInFirst
    if not admin.role.may(role):
        raise HTTPException(403, f"Your role ({admin.role.value}) may not open this page; it needs {role.value}.")
    return admin


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


async def checked_form(request: Request) -> dict[str, str]:
    """A console form: from this origin, with the session's CSRF token; raises 403 otherwise."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPException(403, "This form was sent from another site: refused.")
    form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(form.get("csrf", ""), expected):
        raise HTTPException(403, "This form has expired or did not come from the console: reload the page.")
    return form


def language(request: Request) -> Language:
    """``?lang=`` (kept for the session), the session's, else the browser's (Accept-Language)."""
    asked = parse_language(request.query_params.get("lang"))
    if asked is not None:
        request.session["lang"] = asked
        return asked
    kept = parse_language(request.session.get("lang"))
    default = request.app.state.runtime.pipeline.default_language
    return kept or negotiate(request.headers.get("accept-language"), default)


VIEW_TITLES = {"dashboard": "Dashboard", "decisions": "Decisions", "decision": "Decisions",
               "reviews": "Review requests", "exceptions": "Exceptions", "policy": "Policy", "policy_diff": "Policy",
               "simulation": "Policy", "actions": "Admin actions"}


def page(request: Request, admin: Admin | None, view: str, status: int = 200, **context: Any) -> HTMLResponse:
    speaks = language(request)
    title = VIEW_TITLES.get(view)
    html = render_console(view, speaks, admin=admin, csrf=csrf_token(request) if admin else "",
                          view_title=translator(speaks)(title) if title else None, **context)
    return HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"})


def _back(path: str, message: str, runtime: Runtime) -> RedirectResponse:
    """Back to a page with what happened: the message is signed, so a link can't put words in the console."""
    return RedirectResponse(f"{path}?{urlencode({'done': message, 'sig': _signature(runtime, path, message)})}",
                            status_code=303)


def _classes(text: str) -> list[str] | None:
    """The approve form's data classes: empty, those that stopped the upload (None); "any", any ([])."""
    names = [name.strip() for name in text.replace(";", ",").split(",") if name.strip()]
    if not names:
        return None
    return [] if [n.lower() for n in names] == ["any"] else names


def _why(problem: Exception) -> str:
    """A refusal as people read it: the check's own words, not Python's."""
    if isinstance(problem, HTTPException):
        return str(problem.detail)
    if isinstance(problem, ValidationError):
        first = problem.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    if isinstance(problem, ValueError) and "invalid literal" in str(problem):
        return "a number of days is a whole number"
    return str(problem).splitlines()[0]


def _t(request: Request, message: str, **values: object) -> str:
    """``message`` in the console's language, with ``values`` put in."""
    translated = translator(language(request))(message)
    return translated % values if values else translated


def _signature(runtime: Runtime, path: str, message: str) -> str:
    key = runtime.form_tokens.derived("console message").encode()
    return hmac.new(key, f"{path}\x00{message}".encode(), "sha256").hexdigest()[:32]


def done(request: Request, runtime: Runtime) -> str | None:
    """The signed message of ``_back``, if the link carries one."""
    message, signature = request.query_params.get("done", ""), request.query_params.get("sig", "")
    expected = _signature(runtime, request.url.path, message)
    return message if message and hmac.compare_digest(signature, expected) else None


# --- sign-in ----------------------------------------------------------------------------------------------


@router.get("/login")
async def login(request: Request, runtime: RuntimeDep) -> Response:
    oauth = request.app.state.oauth
    if oauth is None:
        _ = translator(language(request))
        return page(request, None, "message", 503, title=_("Sign-in is not set up"),
                    text=_("Set DETOUR_OIDC_ISSUER, DETOUR_OIDC_CLIENT_ID, DETOUR_OIDC_CLIENT_SECRET and "
                           "DETOUR_OIDC_ROLES (see docs/admin.md). Scripts use admin tokens meanwhile."))
    target = request.query_params.get("next", "/admin")
    request.session["next"] = target if target.startswith("/admin") and not target.startswith("//") else "/admin"
    redirect_uri = _callback_url(request, runtime)
    try:
        answer: Response = await oauth.create_client(PROVIDER).authorize_redirect(request, redirect_uri)
    except Exception:
        log.exception("console sign-in: the OpenID Connect provider can't be reached")
        _ = translator(language(request))
        return page(request, None, "message", 503, title=_("Sign-in is unavailable"),
                    text=_("The sign-in provider can't be reached just now; try again in a minute."))
    return answer


def _callback_url(request: Request, runtime: Runtime) -> str:
    base = runtime.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/admin/callback"


@router.get("/callback")
async def callback(request: Request, runtime: RuntimeDep) -> Response:
    oauth = request.app.state.oauth
    if oauth is None:
        raise HTTPException(404, "Sign-in is not set up.")
    client = oauth.create_client(PROVIDER)
    try:
        token = await client.authorize_access_token(request)
        claims = dict(token.get("userinfo") or {})  # the ID token's, verified
        try:
            extra = dict(await client.userinfo(token=token))
            if extra.get("sub") == claims.get("sub"):  # OpenID Connect Core 5.3.2: else it is not this person's
                claims = {**extra, **claims}  # the ID token's own claims win
        except Exception:  # the ID token's claims are enough when the provider has no userinfo endpoint
            log.info("console sign-in: no userinfo from the provider; the ID token's claims are used")
    except (OAuthError, ValidationError, ValueError, KeyError) as problem:
        log.warning("console sign-in failed: %s", type(problem).__name__)
        _ = translator(language(request))
        return page(request, None, "message", 400, title=_("Sign-in failed"),
                    text=_("The sign-in did not complete (it may have expired). Start again."), link="/admin/login")
    email = claims.get("email") if claims.get("email_verified") is not False else None
    name = str(email or claims.get("preferred_username") or claims.get("sub") or "")[:100]
    role = role_of(claims.get(runtime.settings.oidc_groups_claim), request.app.state.roles)
    if not name or role is None:
        _ = translator(language(request))
        return page(request, None, "message", 403, title=_("No access to the console"),
                    text=_("Your account has no Detour role. Ask IT for a group that gives one (DETOUR_OIDC_ROLES)."))
    target = request.session.get("next", "/admin")
    request.session.clear()
    now = time.time()
    request.session["person"] = {"name": name, "role": role.value, "since": now, "seen": now}
    admin = Admin(name, role)
    await api.record(runtime, admin, request, "console.sign_in")
    return RedirectResponse(target if isinstance(target, str) else "/admin", status_code=303)


@router.post("/logout")
async def logout(request: Request, runtime: RuntimeDep) -> Response:
    admin = signed_in(request, runtime)
    await checked_form(request)
    if admin is not None:
        await api.record(runtime, admin, request, "console.sign_out")
    request.session.clear()
    _ = translator(language(request))
    return page(request, None, "message", title=_("Signed out"), text=_("You are signed out of Detour's console."),
                link="/admin")


# --- pages --------------------------------------------------------------------------------------------------


@router.get("")
async def home(request: Request, runtime: RuntimeDep, days: int = 14) -> Response:
    admin = await needs(request, runtime, Role.VIEWER)
    figures = await api.figures(request, runtime, admin, max(1, min(days, 90)))
    return page(request, admin, "dashboard", figures=figures)


@router.get("/decisions")
async def decisions(request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.VIEWER)
    query = {k: v for k, v in request.query_params.items() if v and k in _FILTERS}
    query.setdefault("since", "7d")  # shown in the form: the list is of the last 7 days unless told otherwise
    try:
        where = _filter(query)
        found = await api.stored(store_admin.explore, runtime.store, where, evidence=True, limit=100,
                                 cursor=request.query_params.get("cursor") or None)
        if not admin.role.may(Role.REVIEWER):  # counts only: a decision's reference opens its page
            found = store_admin.Page([], None, found.total, found.counts, found.would)
    except (BadRequest, DetourError) as problem:
        return page(request, admin, "message", 400, title=_t(request, "That filter does not work"),
                    text=str(problem), link="/admin/decisions")
    await api.record(runtime, admin, request, "decisions.list", detail=query or None)
    export = urlencode({**query, "since": query.get("since") or "7d"})
    return page(request, admin, "decisions", page=found, query=query, export=export)


_FILTERS = ("since", "until", "action", "rule", "data_class", "user", "group", "destination", "category", "channel",
            "exception", "justified", "would")


@router.get("/export")
async def export(request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    query = {k: v for k, v in request.query_params.items() if v and k in _FILTERS}
    try:
        where = _filter(query)
    except BadRequest as problem:
        return page(request, admin, "message", 400, title=_t(request, "That filter does not work"),
                    text=str(problem), link="/admin/decisions")
    wanted: Literal["csv", "jsonl"] = "jsonl" if request.query_params.get("format") == "jsonl" else "csv"
    return await api.exported(request, runtime, admin, where, wanted)


def _filter(query: dict[str, str]) -> DecisionFilter:
    action = query.get("action")
    if action is not None and action not in ("allow", "warn", "block"):
        raise BadRequest("action is allow, warn or block")
    if query.get("would") not in (None, "block", "warn"):
        raise BadRequest("would is block or warn")
    yes_no = {"yes": True, "no": False, "": None}
    if query.get("exception", "") not in yes_no or query.get("justified", "") not in yes_no:
        raise BadRequest("exception and justified are yes or no")
    return DecisionFilter(api.moment(query.get("since") or "7d", "since"), api.moment(query.get("until"), "until"),
                          action, query.get("rule"), query.get("data_class"), query.get("user"), query.get("group"),
                          query.get("destination"), query.get("category"), query.get("channel"),
                          justified=yes_no[query.get("justified", "")], exemption=yes_no[query.get("exception", "")],
                          would=query.get("would"))


@router.get("/reviews")
async def reviews(request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    waiting = await api.stored(store_admin.reviews, runtime.store, "open", 200)
    answered = [r for r in await api.stored(store_admin.reviews, runtime.store, None, 50) if r["status"] != "open"]
    reports = await api.stored(store_exemptions.wrong_reports, runtime.store, "open", 200)
    await api.record(runtime, admin, request, "reviews.list", detail={"status": "open"})
    return page(request, admin, "reviews", waiting=waiting, answered=answered, reports=reports,
                data_classes=[d.id for d in runtime.policy.document.data_classes],
                done=done(request, runtime), longest=runtime.policy.document.policy.max_exception_days)


@router.post("/reports/{report_id}/confirm")
async def confirm(report_id: ItemId, request: Request, runtime: RuntimeDep) -> Response:
    return await judge(report_id, "confirm", request, runtime)


@router.post("/reports/{report_id}/reject")
async def reject(report_id: ItemId, request: Request, runtime: RuntimeDep) -> Response:
    return await judge(report_id, "reject", request, runtime)


async def judge(report_id: int, verdict: str, request: Request, runtime: Runtime) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    form = await checked_form(request)
    try:
        days = int(form.get("exception_days") or 0) or None if verdict == "confirm" else None
        answered = await api.judge(request, runtime, admin, report_id,
                                   api.Verdict(note=form.get("note", ""), exception_days=days),
                                   confirmed=verdict == "confirm")
    except (ValidationError, ValueError, BadRequest, HTTPException) as problem:
        message = _why(problem)
        return _back("/admin/reviews", _t(request, "Not answered: %(why)s", why=message), runtime)
    return _back("/admin/reviews", _t(request, "Report %(id)s: %(status)s.", id=report_id,
                                      status=_t(request, STATUSES[answered["status"]])), runtime)


@router.post("/reviews/{review_id}/approve")
async def approve(review_id: ItemId, request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    form = await checked_form(request)
    who = form.get("who", "")
    try:
        answer = api.Approve(user=form.get("user") or None if who == "user" else None,
                             group=form.get("group") or None if who == "group" else None,
                             everyone=who == "everyone", days=int(form.get("days") or 0) or None, until=None,
                             action="warn" if form.get("action") == "warn" else "allow",
                             data_classes=_classes(form.get("data_classes", "")),
                             note=form.get("note", ""), subdomains=form.get("subdomains") == "yes")
        granted = await api.grant(request, runtime, admin, review_id, answer)
    except (ValidationError, ValueError, BadRequest, HTTPException) as problem:
        message = _why(problem)
        return _back("/admin/reviews", _t(request, "Not approved: %(why)s", why=message), runtime)
    return _back("/admin/reviews", _t(request, "Approved: exception %(id)s until %(date)s.", id=granted["id"],
                                      date=granted["expires"][:10]), runtime)


@router.post("/reviews/{review_id}/decline")
async def decline(review_id: ItemId, request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    form = await checked_form(request)
    try:
        await api.refuse(request, runtime, admin, review_id, api.Decline(reason=form.get("reason", "")))
    except (ValidationError, BadRequest, HTTPException) as problem:
        message = _why(problem)
        return _back("/admin/reviews", _t(request, "Not declined: %(why)s", why=message), runtime)
    return _back("/admin/reviews", _t(request, "Declined request %(id)s.", id=review_id), runtime)


@router.post("/{queue}/{item_id}/assign")
async def assign(queue: Literal["reviews", "reports"], item_id: ItemId, request: Request,
                 runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    form = await checked_form(request)
    to = admin.name if form.get("to") == "me" else ""
    await api.take(request, runtime, admin, queue, item_id, to)
    said = _t(request, "Taken: %(id)s.", id=item_id) if to else _t(request, "Released: %(id)s.", id=item_id)
    return _back("/admin/reviews", said, runtime)


@router.post("/{queue}/{item_id}/comment")
async def comment(queue: Literal["reviews", "reports"], item_id: ItemId, request: Request,
                  runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    form = await checked_form(request)
    try:
        await api.remark(request, runtime, admin, queue, item_id, form.get("text", "")[:2000])
    except (BadRequest, HTTPException) as problem:
        message = _why(problem)
        return _back("/admin/reviews", _t(request, "Not added: %(why)s", why=message), runtime)
    return _back("/admin/reviews", _t(request, "Comment added to %(id)s.", id=item_id), runtime)


@router.get("/exceptions")
async def exceptions(request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    found = await api.stored(runtime.exemptions.all, True, 200)
    now = datetime.now(UTC).isoformat()
    for exception in found:
        exception["ended"] = exception["expires"] <= now
    await api.record(runtime, admin, request, "exceptions.list")
    return page(request, admin, "exceptions", exceptions=found, done=done(request, runtime),
                may_revoke=admin.role.may(Role.POLICY_ADMIN),
                longest=runtime.policy.document.policy.max_exception_days)


@router.post("/exceptions/{exception_id}/extend")
async def extend(exception_id: ItemId, request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    form = await checked_form(request)
    try:
        extended = await api.prolong(request, runtime, admin, exception_id,
                                     api.Extend(days=int(form.get("days") or 0) or None, until=None))
    except (ValidationError, ValueError, BadRequest, HTTPException) as problem:
        message = _why(problem)
        return _back("/admin/exceptions", _t(request, "Not extended: %(why)s", why=message), runtime)
    return _back("/admin/exceptions", _t(request, "Exception %(id)s now lasts until %(date)s.", id=exception_id,
                                         date=extended["expires"][:10]), runtime)


@router.get("/decisions/{decision_id}")
async def decision(decision_id: str, request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.REVIEWER)
    found = await api.stored(store_admin.detail, runtime.store, decision_id[:32])
    if found is None:
        raise HTTPException(404, "No decision with this reference.")
    await api.record(runtime, admin, request, "decision.view", target=decision_id[:32])
    return page(request, admin, "decision", decision=found)


@router.post("/exceptions/{exception_id}/revoke")
async def revoke(exception_id: ItemId, request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.POLICY_ADMIN)
    await checked_form(request)
    try:
        await api.stored(runtime.exemptions.revoke, exception_id, admin.name)
    except KeyError:
        return _back("/admin/exceptions", _t(request, "No exception %(id)s.", id=exception_id), runtime)
    await api.record(runtime, admin, request, "exception.revoke", target=str(exception_id))
    return _back("/admin/exceptions", _t(request, "Exception %(id)s revoked: it no longer applies.", id=exception_id),
                 runtime)


@router.get("/policy")
async def policy(request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.POLICY_ADMIN)
    await api.record(runtime, admin, request, "policy.view")
    history = await api.stored(store_versions.versions, runtime.store, 20)
    return page(request, admin, "policy", policy=api.policy_in_force(runtime), done=done(request, runtime),
                versions=history, warnings=[str(w) for w in runtime.policy.warnings])


@router.get("/policy/diff")
async def policy_diff(request: Request, runtime: RuntimeDep, a: str = "", b: str = "") -> Response:
    admin = await needs(request, runtime, Role.POLICY_ADMIN)
    try:
        compared = await api.stored(api.compare_versions, runtime, a[:64], b[:64] or None)
    except (BadRequest, HTTPException) as problem:
        return page(request, admin, "message", 400, title=_t(request, "Those versions can't be compared"),
                    text=str(getattr(problem, "detail", problem)), link="/admin/policy")
    await api.record(runtime, admin, request, "policy.diff", detail={"a": compared.a, "b": compared.b})
    return page(request, admin, "policy_diff", compared=compared.as_json())


@router.post("/policy/simulate")
async def policy_simulate(request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.POLICY_ADMIN)
    files, _ = await api.draft_form(request)  # read once (files closed); checked_form sees the same fields
    fields = await checked_form(request)
    try:
        result = await api.simulated(runtime, files, fields.get("version") or None,
                                     api.simulation_start(fields.get("since") or "30d"))
    except PolicyError as problem:
        return page(request, admin, "message", 422, title=_t(request, "The draft is not a valid policy"),
                    text=str(problem), link="/admin/policy")
    except (BadRequest, DetourError) as problem:
        return page(request, admin, "message", 400, title=_t(request, "That simulation can't run"),
                    text=str(problem), link="/admin/policy")
    await api.record(runtime, admin, request, "policy.simulate",
                     detail={"draft": result.draft, "since": result.since.isoformat(), "changed": result.changed})
    return page(request, admin, "simulation", result=result.as_json(), in_force=runtime.policy.digest)


@router.post("/policy/reload")
async def reload(request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.POLICY_ADMIN)
    await checked_form(request)
    state = await api.stored(runtime.reloader.reload, f"reload by {admin.name}")
    await api.record(runtime, admin, request, "policy.reload", detail={"loaded": state.loaded,
                                                                       "error": bool(state.error)})
    said = (_t(request, "The policy folder is not valid: the running policy stays.") if state.error
            else _t(request, "Policy %(digest)s is in force.", digest=state.loaded))
    return _back("/admin/policy", said, runtime)


@router.get("/actions")
async def actions(request: Request, runtime: RuntimeDep) -> Response:
    admin = await needs(request, runtime, Role.POLICY_ADMIN)
    found = await api.stored(store_admin.actions, runtime.store, 200, None)
    await api.record(runtime, admin, request, "actions.list")
    return page(request, admin, "actions", actions=found)
