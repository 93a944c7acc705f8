"""Tables of the decision store (SQLAlchemy 2). Changes go through an Alembic migration in migrations/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class DecisionRow(Base):
    """One decision: who, what, where to, the answer and why. Masked findings only, never a raw value."""

    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user: Mapped[str | None] = mapped_column(String(256))
    group: Mapped[str | None] = mapped_column(String(256))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    destination: Mapped[str] = mapped_column(String(2048))
    destination_host: Mapped[str] = mapped_column(String(256), index=True)
    file_name: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    file_type: Mapped[str] = mapped_column(String(256))
    decision: Mapped[str] = mapped_column(String(8), index=True)
    rules: Mapped[list[str]] = mapped_column(JSON)
    alternatives: Mapped[list[str]] = mapped_column(JSON)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)  # the decision JSON as answered: masked examples only
    translations: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # language → the same report in it
    justified_by: Mapped[str | None] = mapped_column(String(32))  # a warning let through by this justification
    # The decision language-neutral (migration 0004): enough to decide again under another policy and to
    # render in any language. Masked examples and keyed hashes only.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # records.Evidence
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # records.Decision
    policy_digest: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[str | None] = mapped_column(String(16))  # timeout | error | busy: decided by on_error
    # Who sent it, as a keyed hash (migration 0005): a justification matches it; it shows nobody's name.
    who: Mapped[str | None] = mapped_column(String(64), index=True)
    api_client: Mapped[str | None] = mapped_column(String(100))  # the API client that sent it (migration 0006)
    exemption_id: Mapped[int | None] = mapped_column(index=True)  # decided by this exception (migration 0008)
    would: Mapped[str | None] = mapped_column(String(8), index=True)  # monitor-mode rules: block | warn (0011)
    partial: Mapped[bool | None] = mapped_column()  # decided on part of the findings (0012; None: not known)
    looked_for: Mapped[list[str] | None] = mapped_column(JSON)  # detectors run, when fewer than the policy's (0012)


class EdmSetRow(Base):
    """An exact data match set (migration 0013): keyed hashes of a dataset's chosen values, never the values.
    ``key`` is empty for a set keyed by DETOUR_HASH_KEY; a set moved in from an older file keeps its own, wrapped
    with a key derived from DETOUR_HASH_KEY."""

    __tablename__ = "edm_sets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    columns: Mapped[list[str]] = mapped_column(JSON)
    records: Mapped[int] = mapped_column(Integer)
    min_fields: Mapped[int] = mapped_column(Integer)
    key: Mapped[str | None] = mapped_column(String(64))  # a moved-in set's own key, wrapped
    key_check: Mapped[str] = mapped_column(String(64))  # a keyed hash of a constant: the key in use is the set's
    fingerprints: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed JSON: hash → record ids
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyVersionRow(Base):
    """A policy that decided uploads (migration 0011): its files as they were, so a decision's ``policy_digest``
    leads to the rules that made it and two versions can be compared. Policy files hold no matched values."""

    __tablename__ = "policy_versions"
    __table_args__ = (Index("ix_policy_versions_last_loaded", "last_loaded"),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    files: Mapped[dict[str, str]] = mapped_column(JSON)  # file name → its text
    first_loaded: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_loaded: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    how: Mapped[str] = mapped_column(String(100))  # start-up, the folder changed, SIGHUP, the console…


class RouteTakenRow(Base):
    """Someone followed an alternative route offered with a decision."""

    __tablename__ = "routes_taken"
    __table_args__ = (Index("ix_routes_taken_decision", "decision_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    alternative_id: Mapped[str] = mapped_column(String(128))
    taken: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewRequestRow(Base):
    """Staff ask IT to review a tool or site they need (what, why, by when); IT's queue comes later."""

    __tablename__ = "review_requests"
    __table_args__ = (Index("ix_review_requests_decision", "decision_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tool: Mapped[str] = mapped_column(String(200))
    why: Mapped[str] = mapped_column(String(2000))
    needed_by: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))  # open | approved | declined
    # IT's answer (migration 0007): when, by whom (an admin token's name), and why (a decline's reason)
    answered: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(String(2000))
    exemption_id: Mapped[int | None] = mapped_column()  # the exception an approval granted (migration 0008)
    assigned_to: Mapped[str | None] = mapped_column(String(100))  # the reviewer who takes it (migration 0010)


class WrongReportRow(Base):
    """Staff say a decision looks wrong (what they believe the file is); the masked findings are in the decision."""

    __tablename__ = "wrong_reports"
    __table_args__ = (Index("ix_wrong_reports_decision", "decision_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    believed: Mapped[str] = mapped_column(String(2000))
    # IT's verdict (migration 0009): open | confirmed (a false positive) | rejected (the decision stands)
    status: Mapped[str] = mapped_column(String(16), default="open")
    answered: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(String(2000))
    exemption_id: Mapped[int | None] = mapped_column()  # a narrow exception for this file, when IT made one
    assigned_to: Mapped[str | None] = mapped_column(String(100))  # the reviewer who takes it (migration 0010)


class JustificationRow(Base):
    """A business justification for a warning: lets the same file go to the same host, from the same
    person, until it expires. The text is what the person typed; no finding's value is in it."""

    __tablename__ = "justifications"
    __table_args__ = (Index("ix_justifications_decision", "decision_id"),
                      Index("ix_justifications_match", "sha256", "destination_host"))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    justification: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    destination_host: Mapped[str] = mapped_column(String(256))
    who: Mapped[str] = mapped_column(String(256))


class TicketRow(Base):
    """A message to the helpdesk's webhook (a ticket, a review request, a 'looks wrong' report): the
    outbox, so a helpdesk that is down gets it later. Reference and masked details only."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_decision", "decision_id"), Index("ix_tickets_status", "status", "next_attempt"))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    remote_id: Mapped[str | None] = mapped_column(String(200))


class ClientRow(Base):
    """A program allowed to call Detour's API (a proxy add-on, a browser extension, a script): its token is
    kept only as a SHA-256 hash. ``may_assert_user``: it may say on whose behalf it uploads."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    may_assert_user: Mapped[bool] = mapped_column(default=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AdminTokenRow(Base):
    """A token for IT's admin API (automation, scripts): a role, an expiry, kept only as a SHA-256 hash."""

    __tablename__ = "admin_tokens"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # viewer | reviewer | policy_admin
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AdminActionRow(Base):
    """What someone did with IT's admin API or console: who, what, on what, when, from where."""

    __tablename__ = "admin_actions"
    __table_args__ = (Index("ix_admin_actions_created", "created"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))  # an admin token's name (or, with sign-in, a person)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))  # e.g. decisions.list, decisions.export, review.decline
    target: Mapped[str | None] = mapped_column(String(200))  # a decision id, a review id…
    client_ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the filters of a query, a decline's reason


class ExemptionRow(Base):
    """An exception IT granted, usually by approving a review request: uploads to a host from a user, a group
    or everyone, holding only some data classes (none listed: any), get allow or warn until it expires."""

    __tablename__ = "exemptions"
    __table_args__ = (Index("ix_exemptions_expires", "expires"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    destination_host: Mapped[str] = mapped_column(String(256))
    user: Mapped[str | None] = mapped_column(String(256))
    group: Mapped[str | None] = mapped_column(String(256))
    data_classes: Mapped[list[str]] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(8))  # allow | warn
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(1000), default="")
    sha256: Mapped[str | None] = mapped_column(String(64))  # this file only (migration 0009)
    subdomains: Mapped[bool] = mapped_column(default=False)  # hosts under destination_host too (migration 0010)
    review_id: Mapped[int | None] = mapped_column()
    decision_id: Mapped[str | None] = mapped_column(String(32))  # the decision the request was about
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class QueueCommentRow(Base):
    """IT's comment on a review request or a "looks wrong" report: for IT only, never shown to staff."""

    __tablename__ = "queue_comments"
    __table_args__ = (Index("ix_queue_comments_item", "kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # review | report
    item_id: Mapped[int] = mapped_column()
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(String(2000))
