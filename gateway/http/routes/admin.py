"""``/v1/admin/…``: IT's admin API. Decisions (filter, page, export as CSV or JSON Lines), one decision in
detail, review requests and their answers, and the record of admin actions.

Every call needs ``Authorization: Bearer dta_…`` (``detour admin token create --role ROLE --name NAME``):
without a valid token, 401; with a role that may not do it, 403. A viewer sees decisions and counts, never
masked evidence; a reviewer also sees masked findings and answers review requests; a policy admin also
reads the record of admin actions. Every call is recorded (who, what, on what, when, from where).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import UploadFile

from gateway.errors import BadRequest, DetourError, PolicyError
from gateway.http.auth import NotAllowed, Unauthenticated
from gateway.http.deps import RuntimeDep
from gateway.http.routes.pages import notify
from gateway.policy.diff import PolicyDiff, diff
from gateway.policy.loader import Policy
from gateway.records import Action, Channel
from gateway.rollout.simulation import MAX_DAYS, MAX_DRAFT_FILE_BYTES, MAX_DRAFT_FILES, Simulation, draft_from, simulate
from gateway.runtime import Runtime
from gateway.settings import valid_address
from gateway.store import admin as store_admin
from gateway.store import exemptions as store_exemptions
from gateway.store import versions as store_versions
from gateway.store.admin import MAX_PAGE, REVIEW_STATES, Admin, DecisionFilter, Role
from gateway.store.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/admin", tags=["admin"])
T = TypeVar("T")
MAX_ID = 2**31 - 1  # the store's integer ids (PostgreSQL INTEGER): a larger one is no id

_RELATIVE = re.compile(r"^(\d{1,4})([dhm])$")
CSV_COLUMNS = ("decision_id", "time", "action", "rules", "data_classes", "destination_host", "destination_category",
               "user", "group", "channel", "api_client", "file", "size", "sha256", "file_type", "routes_offered",
               "routes_taken", "justified_by", "exception", "failure", "partial", "would", "monitored_rules", "policy",
               "findings")


def _admin(request: Request, runtime: Runtime) -> Admin:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The admin API needs an admin token: send Authorization: Bearer <token>. IT makes one "
                              "with: detour admin token create --role reviewer --name NAME")
    admin = runtime.admin_tokens.find(token.strip())
    if admin is None:
        raise Unauthenticated("This admin token is not valid (unknown, revoked or expired). Make a new one: "
                              "detour admin token create --role ROLE --name NAME")
    return admin


async def stored(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a store call off the event loop; a store that can't be reached is 503, with when to try again."""
    try:
        return await run_in_threadpool(work, *args, **kwargs)
    except SQLAlchemyError:
        log.exception("admin API: the decision store can't be reached")
        raise HTTPException(503, "The decision store can't be reached just now; try again in a minute.",
                            headers={"Retry-After": "30"}) from None


def _needs(role: Role) -> Any:
    async def check(request: Request, runtime: RuntimeDep) -> Admin:
        admin = await stored(_admin, request, runtime)
        if not admin.role.may(role):
            raise NotAllowed(f"The admin token {admin.name!r} has the role {admin.role.value}; this needs "
                             f"{role.value} or more.")
        return admin
    return Depends(check)


Viewer = Annotated[Admin, _needs(Role.VIEWER)]
Reviewer = Annotated[Admin, _needs(Role.REVIEWER)]
PolicyAdmin = Annotated[Admin, _needs(Role.POLICY_ADMIN)]


def moment(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or time (UTC unless it names its zone), or a time ago: 30d, 12h, 15m."""
    if value is None or not value.strip():
        return None
    relative = _RELATIVE.match(value.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return datetime.now(UTC) - amount * {"d": timedelta(days=1), "h": timedelta(hours=1),
                                             "m": timedelta(minutes=1)}[unit]
    try:
        when = datetime.fromisoformat(value.strip())
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(f"{name} must be an ISO 8601 date or time (2026-11-30, 2026-11-30T08:00:00Z) or a time "
                         "ago (30d, 12h, 15m)") from None


def decision_filter(
    since: str | None = Query(None, description="From this time on: ISO 8601, or a time ago (30d, 12h, 15m)"),
    until: str | None = Query(None, description="Before this time: ISO 8601, or a time ago"),
    action: Annotated[Action | None, Query(description="allow, warn or block")] = None,
    rule: str | None = Query(None, max_length=200, description="A rule that decided it"),
    data_class: str | None = Query(None, max_length=200, description="A data class found in it"),
    user: str | None = Query(None, max_length=256),
    group: str | None = Query(None, max_length=256),
    destination: str | None = Query(None, max_length=256,
                                    description="A host; example.com also matches files.example.com"),
    category: str | None = Query(None, max_length=200, description="A destination category of the policy"),
    channel: Annotated[Channel | None, Query(description="api, icap, intercept or cli")] = None,
    api_client: str | None = Query(None, max_length=100, description="The API client that sent it"),
    justified: bool | None = Query(None, description="A warning let through by a justification"),
    failure: Literal["timeout", "error", "busy"] | None = Query(None, description="Decided by on_error"),
    exception: bool | None = Query(None, description="Decided by an exception IT granted"),
    would: Literal["block", "warn"] | None = Query(None, description=(
        "Rules in monitor mode would have blocked or warned (the upload was decided less severely)")),
) -> DecisionFilter:
    return DecisionFilter(moment(since, "since"), moment(until, "until"), action.value if action else None, rule,
                          data_class, user, group, destination, category, channel.value if channel else None,
                          api_client, justified, failure, exception, would)


Filter = Annotated[DecisionFilter, Depends(decision_filter)]


def _where(request: Request) -> str | None:
    return valid_address(request.client.host) if request.client else None


def _shown(where: DecisionFilter) -> dict[str, Any]:
    """The filter as recorded with the action: the fields given."""
    return {key: (value.isoformat() if isinstance(value, datetime) else value)
            for key, value in vars(where).items() if value is not None}


async def record(runtime: Runtime, admin: Admin, request: Request, action: str, target: str | None = None,
                  detail: dict[str, Any] | None = None) -> None:
    runtime.recorder.audit.admin(admin.name, admin.role.value, action, target, _where(request))
    await stored(store_admin.record_action, runtime.store, admin, action, target, _where(request), detail)


class DecisionPage(BaseModel):
    decisions: list[dict[str, Any]] = Field(description="Newest first, with masked findings (reviewers and up; "
                                                        "a viewer gets the counts only)")
    next: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")
    total: int | None = Field(description="How many decisions the filter selects")
    counts: dict[str, int] = Field(description="How many of them per action")
    would: dict[str, int] = Field(default_factory=dict, description="How many of them rules in monitor mode would "
                                  "have made more severe, per what they would do (block, warn)")


@router.get("/whoami", summary="The token's name and role")
async def whoami(admin: Viewer) -> dict[str, str]:
    return {"name": admin.name, "role": admin.role.value}


@router.get("/decisions", response_model=DecisionPage, summary="Decisions, filtered, newest first")
async def decisions(request: Request, runtime: RuntimeDep, admin: Viewer, where: Filter,
                    limit: int = Query(100, ge=1, le=MAX_PAGE), cursor: str | None = Query(None, max_length=80),
                    ) -> DecisionPage:
    try:
        page = await stored(store_admin.explore, runtime.store, where, evidence=True, limit=limit, cursor=cursor)
    except DetourError as problem:
        raise BadRequest(str(problem)) from None
    await record(runtime, admin, request, "decisions.list", detail=_shown(where))
    if not admin.role.may(Role.REVIEWER):  # counts only: a decision's reference opens its page, evidence and all
        return DecisionPage(decisions=[], next=None, total=page.total, counts=page.counts, would=page.would)
    return DecisionPage(decisions=page.decisions, next=page.next, total=page.total, counts=page.counts,
                        would=page.would)


@router.get("/decisions/export", summary="Every decision the filter selects, as CSV or JSON Lines (streamed)")
async def export(request: Request, runtime: RuntimeDep, admin: Reviewer, where: Filter,
                 format: Literal["csv", "jsonl"] = Query("jsonl")) -> StreamingResponse:
    return await exported(request, runtime, admin, where, format)


async def exported(request: Request, runtime: Runtime, admin: Admin, where: DecisionFilter,
                   format: Literal["csv", "jsonl"]) -> StreamingResponse:
    """The export (the API and the console): streamed, masked findings for reviewers and up only."""
    evidence = admin.role.may(Role.REVIEWER)
    await record(runtime, admin, request, "decisions.export", detail={**_shown(where), "format": format})
    entries = store_admin.export(runtime.store, where, evidence=evidence)
    lines = _csv(entries, evidence) if format == "csv" else (json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(iterate_in_threadpool(lines), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="detour-decisions-{stamp}.{format}"',
        "Cache-Control": "no-store"})


def _csv(entries: Iterator[dict[str, Any]], evidence: bool) -> Iterator[str]:
    columns = CSV_COLUMNS if evidence else CSV_COLUMNS[:-1]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for entry in entries:
        destination = entry["destination"]
        flat = {**entry, "destination_host": destination["host"], "destination_category": destination["category"],
                "rules": " ".join(entry["rules"]), "routes_offered": " ".join(entry["routes_offered"]),
                "routes_taken": " ".join(entry["routes_taken"]),
                "monitored_rules": " ".join(entry.get("monitored_rules") or []),
                "data_classes": " ".join(f"{d['id']}={d['count']}" for d in entry["data_classes"]),
                "findings": "; ".join(f"{f['type']}: {', '.join(f['examples'])}" for f in entry.get("findings", []))}
        writer.writerow([_cell(flat.get(column)) for column in columns])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text: never a formula (=, +, -, @ first)."""
    text = "" if value is None else str(value)
    first = text.lstrip()[:1]
    return "'" + text if text[:1] in ("\t", "\r") or first in ("=", "+", "-", "@", "＝", "＋", "－", "＠") else text


@router.get("/decisions/{decision_id}", summary="One decision in detail: what was found (masked), routes, "
                                                "requests and answers")
async def decision(request: Request, runtime: RuntimeDep, admin: Reviewer,
                   decision_id: str = Path(max_length=32)) -> dict[str, Any]:
    found = await stored(store_admin.detail, runtime.store, decision_id)
    if found is None:
        raise HTTPException(404, "No decision with this reference.")
    await record(runtime, admin, request, "decision.view", target=decision_id)
    return found


class Decline(BaseModel):
    reason: str = Field(min_length=1, max_length=store_admin.MAX_REASON_CHARS,
                        description="Why not: the employee reads it on their decision page")


@router.get("/reviews", summary="Review requests, newest first")
async def reviews(request: Request, runtime: RuntimeDep, admin: Reviewer,
                  status: Literal["open", "approved", "declined"] | None = Query(None),
                  limit: int = Query(100, ge=1, le=MAX_PAGE),
                  before: int | None = Query(None, ge=1, le=MAX_ID, description="A review id: the page after it")
                  ) -> dict[str, Any]:
    found = await stored(store_admin.reviews, runtime.store, status, limit, before)
    await record(runtime, admin, request, "reviews.list", detail={"status": status} if status else None)
    return {"reviews": found, "states": list(REVIEW_STATES)}


@router.post("/reviews/{review_id}/decline", summary="Decline a review request, with a reason")
async def decline(request: Request, runtime: RuntimeDep, admin: Reviewer, answer: Decline,
                  review_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    return await refuse(request, runtime, admin, review_id, answer)


async def refuse(request: Request, runtime: Runtime, admin: Admin, review_id: int, answer: Decline) -> dict[str, Any]:
    """Decline a review request as ``admin`` (the API and the console)."""
    reason = runtime.pipeline.masker.text(answer.reason)  # what IT types is shown to staff: never a raw value
    try:
        review = await stored(store_admin.decline, runtime.store, review_id, admin, reason)
    except store_admin.ReviewNotOpen as problem:
        raise HTTPException(409, str(problem)) from None
    except DetourError as problem:
        raise BadRequest(str(problem)) from None
    except KeyError:
        raise HTTPException(404, "No review request with this id.") from None
    await record(runtime, admin, request, "review.decline", target=str(review_id),
                  detail={"decision_id": review["decision_id"]})
    await notify(runtime, review["decision_id"], "review_declined",
                 {"review_id": review_id, "tool": review["tool"], "status": "declined", "answer": review["answer"],
                  "answered_by": admin.name})
    return review


class Approve(BaseModel):
    """Who may (exactly one of ``user``, ``group``, ``everyone``) and until when (``days`` or ``until``)."""

    user: str | None = Field(None, min_length=1, max_length=256)
    group: str | None = Field(None, min_length=1, max_length=256)
    everyone: bool = False
    days: int | None = Field(None, ge=1, le=366)
    until: datetime | None = Field(None, description="ISO 8601; UTC unless it names its zone")
    action: Literal["allow", "warn"] = Field("allow", description="warn: the person gives a business reason")
    data_classes: list[str] | None = Field(None, max_length=50, description=(
        "The data classes it covers; leave out: those that stopped the upload; []: any"))
    note: str = Field("", max_length=store_exemptions.MAX_NOTE_CHARS, description="Shown to the person")
    subdomains: bool = Field(False, description="Hosts under the destination's host too (files.example.com for "
                                                "example.com); off: that host only")


@router.post("/reviews/{review_id}/approve", summary="Approve a review request: an exception that expires")
async def approve(request: Request, runtime: RuntimeDep, admin: Reviewer, answer: Approve,
                  review_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    return await grant(request, runtime, admin, review_id, answer)


async def grant(request: Request, runtime: Runtime, admin: Admin, review_id: int, answer: Approve) -> dict[str, Any]:
    """Approve a review request as ``admin`` (the API and the console): raises ``BadRequest`` for an answer
    that does not hold, ``HTTPException`` 404 or 409."""
    user = store_admin.visible(answer.user) if answer.user is not None else None
    group = store_admin.visible(answer.group) if answer.group is not None else None
    if sum((user is not None, group is not None, answer.everyone)) != 1 or user == "" or group == "":
        raise BadRequest('Say who may: exactly one of "user", "group" or "everyone": true.')
    expires = _ends(runtime, answer.days, answer.until)
    known = {d.id for d in runtime.policy.document.data_classes}
    unknown = sorted(set(answer.data_classes or ()) - known)
    if unknown:
        raise BadRequest(f"Unknown data classes: {', '.join(unknown)}. The policy has: {', '.join(sorted(known))}.")
    note = runtime.pipeline.masker.text(answer.note)  # shown to staff: never a raw value
    try:
        granted = await stored(runtime.exemptions.approve, review_id, admin.name, user=user,
                                group=group, expires=expires, action=Action(answer.action),
                                data_classes=answer.data_classes, note=note, subdomains=answer.subdomains)
    except KeyError:
        raise HTTPException(404, "No review request with this id.") from None
    except DetourError as problem:
        raise HTTPException(409, str(problem)) from None
    await record(runtime, admin, request, "review.approve", target=str(review_id),
                  detail={"exception": granted["id"], "decision_id": granted["decision_id"]})
    await notify(runtime, granted["decision_id"], "review_approved",
                 {"review_id": review_id, "status": "approved", "exception": granted, "answered_by": admin.name})
    return granted


class Verdict(BaseModel):
    note: str = Field("", max_length=store_exemptions.MAX_NOTE_CHARS, description="Shown to the person")
    exception_days: int | None = Field(None, ge=1, le=366, description=(
        "Confirming only: let this very file (its SHA-256) go to this destination, from anyone, for so many days"))


@router.get("/reports", summary='"Looks wrong" reports, newest first')
async def reports(request: Request, runtime: RuntimeDep, admin: Reviewer,
                  status: Literal["open", "confirmed", "rejected"] | None = Query(None),
                  limit: int = Query(100, ge=1, le=MAX_PAGE)) -> dict[str, Any]:
    found = await stored(store_exemptions.wrong_reports, runtime.store, status, limit)
    await record(runtime, admin, request, "reports.list", detail={"status": status} if status else None)
    return {"reports": found}


@router.post("/reports/{report_id}/confirm", summary="Confirm a false positive (optionally: let this file go)")
async def confirm(request: Request, runtime: RuntimeDep, admin: Reviewer, verdict: Verdict,
                  report_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    return await judge(request, runtime, admin, report_id, verdict, confirmed=True)


@router.post("/reports/{report_id}/reject", summary="Not a false positive: the decision stands")
async def reject(request: Request, runtime: RuntimeDep, admin: Reviewer, verdict: Verdict,
                 report_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    return await judge(request, runtime, admin, report_id, verdict, confirmed=False)


async def judge(request: Request, runtime: Runtime, admin: Admin, report_id: int, verdict: Verdict, *,
                confirmed: bool) -> dict[str, Any]:
    """IT's verdict on a "looks wrong" report (the API and the console)."""
    if not confirmed and verdict.exception_days is not None:
        raise BadRequest("Only a confirmed false positive gets an exception.")
    longest = runtime.policy.document.policy.max_exception_days
    if verdict.exception_days is not None and verdict.exception_days > longest:
        raise BadRequest(f"An exception lasts up to {longest} days (the policy's max_exception_days).")
    until = datetime.now(UTC) + timedelta(days=verdict.exception_days) if verdict.exception_days else None
    note = runtime.pipeline.masker.text(verdict.note)
    try:
        answered = await stored(runtime.exemptions.answer_report, report_id, admin.name, confirmed=confirmed,
                                note=note, exempt_until=until)
    except KeyError:
        raise HTTPException(404, 'No "looks wrong" report with this id.') from None
    except DetourError as problem:
        raise HTTPException(409, str(problem)) from None
    await record(runtime, admin, request, "report.confirm" if confirmed else "report.reject", target=str(report_id),
                 detail={"decision_id": answered["decision_id"], "exception": answered["exception"] and
                         answered["exception"]["id"]})
    await notify(runtime, answered["decision_id"], "report_answered",
                 {"report_id": report_id, "status": answered["status"], "answer": answered["answer"],
                  "answered_by": admin.name})
    return answered


class Assign(BaseModel):
    to: str | None = Field(None, max_length=100, description="The reviewer who takes it; leave out: yourself; "
                                                            "empty string: nobody")


class Comment(BaseModel):
    text: str = Field(min_length=1, max_length=store_admin.MAX_COMMENT_CHARS, description="For IT only")


@router.post("/{queue}/{item_id}/assign", summary="Give a review request or report to a reviewer")
async def assign(request: Request, runtime: RuntimeDep, admin: Reviewer, change: Assign,
                 queue: Literal["reviews", "reports"], item_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    return await take(request, runtime, admin, queue, item_id, admin.name if change.to is None else change.to)


async def take(request: Request, runtime: Runtime, admin: Admin, queue: str, item_id: int,
               to: str) -> dict[str, Any]:
    kind = "review" if queue == "reviews" else "report"
    try:
        await stored(store_admin.assign, runtime.store, kind, item_id, to.strip() or None)
    except KeyError:
        raise HTTPException(404, f"No {kind} with this id.") from None
    await record(runtime, admin, request, f"{kind}.assign", target=str(item_id), detail={"to": to.strip() or None})
    return {"id": item_id, "assigned_to": to.strip() or None}


@router.post("/{queue}/{item_id}/comments", summary="Comment on a review request or report (IT only)")
async def add_comment(request: Request, runtime: RuntimeDep, admin: Reviewer, note: Comment,
                      queue: Literal["reviews", "reports"], item_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    return await remark(request, runtime, admin, queue, item_id, note.text)


async def remark(request: Request, runtime: Runtime, admin: Admin, queue: str, item_id: int,
                 text: str) -> dict[str, Any]:
    kind = "review" if queue == "reviews" else "report"
    try:
        added = await stored(store_admin.comment, runtime.store, kind, item_id, admin.name,
                             runtime.pipeline.masker.text(text))
    except KeyError:
        raise HTTPException(404, f"No {kind} with this id.") from None
    except DetourError as problem:
        raise BadRequest(str(problem)) from None
    await record(runtime, admin, request, f"{kind}.comment", target=str(item_id))
    return added


@router.get("/exceptions", summary="Exceptions: those in force, or all")
async def exceptions(request: Request, runtime: RuntimeDep, admin: Reviewer,
                     ended: bool = Query(False, description="Also expired and revoked ones")) -> dict[str, Any]:
    found = await stored(runtime.exemptions.all, ended)
    await record(runtime, admin, request, "exceptions.list")
    return {"exceptions": found}


class Extend(BaseModel):
    days: int | None = Field(None, ge=1, le=366, description="From now")
    until: datetime | None = Field(None, description="ISO 8601; UTC unless it names its zone")


@router.patch("/exceptions/{exception_id}", summary="Extend an exception in force (or shorten it)")
async def extend(request: Request, runtime: RuntimeDep, admin: Reviewer, change: Extend,
                 exception_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    return await prolong(request, runtime, admin, exception_id, change)


async def prolong(request: Request, runtime: Runtime, admin: Admin, exception_id: int,
                  change: Extend) -> dict[str, Any]:
    """A new end for an exception (the API and the console), within the policy's max_exception_days."""
    expires = _ends(runtime, change.days, change.until)
    try:
        extended = await stored(runtime.exemptions.extend, exception_id, expires)
    except KeyError:
        raise HTTPException(404, "No exception with this id.") from None
    except DetourError as problem:
        raise HTTPException(409, str(problem)) from None
    await record(runtime, admin, request, "exception.extend", target=str(exception_id),
                 detail={"expires": extended["expires"]})
    return extended


def _ends(runtime: Runtime, days: int | None, until: datetime | None) -> datetime:
    """When an exception ends: ``days`` from now or ``until`` (one of them), within max_exception_days."""
    if (days is None) == (until is None):
        raise BadRequest('Say until when: "days" or "until" (one of them).')
    now = datetime.now(UTC)
    try:
        expires = ((until if until.tzinfo else until.replace(tzinfo=UTC)).astimezone(UTC) if until is not None
                   else now + timedelta(days=days or 0))
    except OverflowError:
        raise BadRequest('"until" is out of range') from None
    longest = runtime.policy.document.policy.max_exception_days
    if not now < expires <= now + timedelta(days=longest, minutes=1):
        raise BadRequest(f"An exception lasts from now up to {longest} days (the policy's max_exception_days).")
    return expires


@router.delete("/exceptions/{exception_id}", summary="Revoke an exception: it stops applying at once")
async def revoke(request: Request, runtime: RuntimeDep, admin: PolicyAdmin,
                 exception_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    try:
        revoked = await stored(runtime.exemptions.revoke, exception_id, admin.name)
    except KeyError:
        raise HTTPException(404, "No exception with this id.") from None
    await record(runtime, admin, request, "exception.revoke", target=str(exception_id))
    return revoked


@router.get("/dashboard", summary="The console's figures: stops per day, top rules and destinations, route take-up, "
                                   "answer times, open queues, exceptions about to expire")
async def dashboard(request: Request, runtime: RuntimeDep, admin: Viewer,
                    days: int = Query(14, ge=1, le=90)) -> dict[str, Any]:
    return await figures(request, runtime, admin, days)


async def figures(request: Request, runtime: Runtime, admin: Admin, days: int) -> dict[str, Any]:
    found = dict(await stored(store_admin.dashboard, runtime.store, days))
    soon = datetime.now(UTC) + timedelta(days=7)
    ending = [e for e in await stored(runtime.exemptions.all) if datetime.fromisoformat(e["expires"]) <= soon]
    if not admin.role.may(Role.REVIEWER):  # a viewer: where and when only, not for whom or why
        ending = [{"id": e["id"], "destination_host": e["destination_host"], "expires": e["expires"]} for e in ending]
    found["exceptions_expiring"] = ending
    await record(runtime, admin, request, "dashboard.view")
    return found


@router.get("/policy", summary="The policy in force: its files, digest, rules, data classes, destinations, routes")
async def policy(request: Request, runtime: RuntimeDep, admin: PolicyAdmin) -> dict[str, Any]:
    await record(runtime, admin, request, "policy.view")
    return policy_in_force(runtime)


def policy_in_force(runtime: Runtime) -> dict[str, Any]:
    loaded = runtime.policy
    document: dict[str, Any] = loaded.document.model_dump(mode="json", exclude_none=True)
    return {"digest": loaded.digest, "directory": str(loaded.directory), "files": list(loaded.files),
            "document": document, "reload": runtime.reloader.state().as_json()}


@router.post("/policy/reload", summary="Load the policy folder now: a valid policy is swapped in, an invalid one "
                                       "is reported and the running one stays")
async def reload(request: Request, runtime: RuntimeDep, admin: PolicyAdmin) -> dict[str, Any]:
    state = await run_in_threadpool(runtime.reloader.reload, f"reload by {admin.name}")
    await record(runtime, admin, request, "policy.reload", detail={"loaded": state.loaded, "error": bool(state.error)})
    return state.as_json()


@router.get("/policy/versions", summary="Policy history: every version that decided uploads, most recent first")
async def policy_versions(request: Request, runtime: RuntimeDep, admin: PolicyAdmin,
                          limit: int = Query(100, ge=1, le=store_versions.MAX_LISTED)) -> dict[str, Any]:
    found = await stored(store_versions.versions, runtime.store, limit)
    await record(runtime, admin, request, "policy.versions")
    return {"in_force": runtime.policy.digest, "versions": found}


@router.get("/policy/diff", summary="What changed between two policy versions (by section and id, and the files)")
async def policy_diff(request: Request, runtime: RuntimeDep, admin: PolicyAdmin,
                      a: str = Query(..., min_length=6, max_length=64, description="A version's digest (or its start)"),
                      b: str | None = Query(None, min_length=6, max_length=64,
                                            description="Another version; default: the policy in force"),
                      ) -> dict[str, Any]:
    compared = await stored(compare_versions, runtime, a, b)
    await record(runtime, admin, request, "policy.diff", detail={"a": compared.a, "b": compared.b})
    return compared.as_json()


def compare_versions(runtime: Runtime, a: str, b: str | None) -> PolicyDiff:
    """Two recorded versions (``b`` None: the policy in force), compared; ``BadRequest`` for an unknown one."""
    old = recorded_version(runtime, a)
    new = recorded_version(runtime, b) if b else runtime.policy
    return diff(old, new)


def recorded_version(runtime: Runtime, digest: str) -> Policy:
    """A recorded policy version by its digest (or a start of it); 404 when unknown, 400 when unreadable."""
    try:
        return store_versions.stored_policy(runtime.store, digest)
    except PolicyError as problem:  # a version recorded by an older Detour that no longer reads it
        raise BadRequest(f"That version can't be read by this Detour: {problem}") from None
    except DetourError as problem:
        if isinstance(problem, store_versions.UnknownVersion):
            raise HTTPException(404, str(problem)) from None
        raise BadRequest(str(problem)) from None


_simulating = threading.BoundedSemaphore(1)  # one simulation at a time per process: each may read a year


async def simulated(runtime: Runtime, files: list[tuple[str, bytes]], version: str | None,
                    since: datetime) -> Simulation:
    """Replay the recorded decisions since ``since`` against a draft (files) or a recorded version."""
    if version and files:
        raise BadRequest("Send the draft's files or a version's digest, not both.")
    if not _simulating.acquire(blocking=False):
        raise HTTPException(429, "A simulation is running; try again when it is done.", headers={"Retry-After": "10"})
    try:
        if version:
            draft = await stored(recorded_version, runtime, version)
        else:  # off the event loop: a large draft takes a while to check
            draft = await run_in_threadpool(draft_from, files, runtime.reloader.known)
        return await stored(simulate, runtime.store, draft, since, who_of=runtime.pipeline.who_of,
                            max_upload_bytes=runtime.settings.max_upload_bytes)
    finally:
        _simulating.release()


@router.post("/policy/simulate", summary="Replay the recorded decisions against a draft policy: what would change",
             description="Send the draft's files (multipart, field `files`, every *.yaml file of the draft) or "
                         "`version` (a recorded version's digest, e.g. to see what going back would do), and "
                         "`since` (default 30d, at most 366 days).")
async def policy_simulate(request: Request, runtime: RuntimeDep, admin: PolicyAdmin) -> dict[str, Any]:
    files, fields = await draft_form(request)
    version, since = fields.get("version"), fields.get("since")
    result = await simulated(runtime, files, version or None, simulation_start(since))
    await record(runtime, admin, request, "policy.simulate",
                 detail={"draft": result.draft, "since": result.since.isoformat(), "changed": result.changed})
    return result.as_json()


async def draft_form(request: Request) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """A simulation's form (multipart): the draft's files, and its other fields. The files are closed after."""
    async with request.form(max_files=MAX_DRAFT_FILES, max_fields=10) as form:
        files = [(f.filename, await f.read(MAX_DRAFT_FILE_BYTES + 1)) for f in form.getlist("files")
                 if isinstance(f, UploadFile) and f.filename]
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    return files, fields


def simulation_start(since: str | None) -> datetime:
    start = moment(since or "30d", "since")
    assert start is not None
    if start < datetime.now(UTC) - timedelta(days=MAX_DAYS):
        raise BadRequest(f"A simulation replays at most the last {MAX_DAYS} days.")
    return start


@router.get("/metrics", summary="Operators' metrics in Prometheus' text format (also at /metrics)",
            response_class=PlainTextResponse)
async def metrics(runtime: RuntimeDep, admin: Viewer) -> PlainTextResponse:
    """Decisions by action, channel, destination category and rule; latency per channel and size class; bytes
    and parts read; content that could not be checked; the recorder, the store, the webhook outbox, the SIEM;
    open connections; the policy in force and failed reloads. Any admin token (a scraper's: role viewer)."""
    exposition = await run_in_threadpool(runtime.metrics.exposition)
    return PlainTextResponse(exposition, media_type=METRICS_CONTENT_TYPE, headers={"Cache-Control": "no-store"})


scrape = APIRouter(tags=["admin"])
scrape.add_api_route("/metrics", metrics, methods=["GET"], response_class=PlainTextResponse,
                     summary="Operators' metrics in Prometheus' text format (an admin token: Authorization: Bearer)")


@router.get("/actions", summary="What admins did: who, what, on what, when, from where")
async def actions(request: Request, runtime: RuntimeDep, admin: PolicyAdmin,
                  limit: int = Query(100, ge=1, le=MAX_PAGE),
                  before: int | None = Query(None, ge=1, le=MAX_ID, description="An action id: the page after it"),
                  ) -> dict[str, Any]:
    found = await stored(store_admin.actions, runtime.store, limit, before)
    await record(runtime, admin, request, "actions.list")
    return {"actions": found}
