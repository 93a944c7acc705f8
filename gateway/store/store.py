"""Record decisions and the routes people take; read them back for the decision page.

Each decision is kept twice over: as the language-neutral ``Inspection`` (the
upload, the masked evidence per detector, the decision), which is enough to
decide it again under another policy and to render it in any language; and as
the answer that was given (the decision JSON, and for stops its translations).

SQLite in ``DETOUR_DATA_DIR`` by default (WAL journal, so readers never wait
for the writer); any SQLAlchemy URL in ``DETOUR_DATABASE_URL``. The schema is
created and upgraded by the Alembic migrations in ``migrations/`` when the store
opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from pydantic import TypeAdapter
from sqlalchemy import Engine, create_engine, event, func, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import DetourError
from gateway.records import (
    Channel,
    Decision,
    Evidence,
    History,
    Inspection,
    Justification,
    ReviewRequest,
    Ticket,
    Upload,
)
from gateway.render.report import Report
from gateway.settings import Settings
from gateway.store.models import (
    DecisionRow,
    ExemptionRow,
    JustificationRow,
    ReviewRequestRow,
    RouteTakenRow,
    TicketRow,
    WrongReportRow,
)

MIGRATIONS = Path(__file__).with_name("migrations")
TICKET_LEASE = timedelta(minutes=2)  # a delivery attempt must finish within this (the webhook's timeout is less)


class Anonymous(DetourError):
    """A decision without a known sender (no user, no client address): nothing can be justified for it."""


@dataclass(frozen=True)
class PendingTicket:
    id: int
    event: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class StoredDecision:
    id: str
    report: Report  # in the language asked for, when the decision was rendered in it
    history: History
    recording: bool = False  # on its way to the store (queued, or spooled while the store was down)


@dataclass(frozen=True)
class RecentStop:
    """One of a person's recent decisions, and what became of it (their "recent stops" page)."""

    id: str
    created: datetime
    file_name: str
    destination_host: str
    decision: str
    route_taken: bool
    reviews: tuple[str, ...]  # the statuses of review requests: open | approved | declined
    reason_given: bool  # a business reason for a warning
    let_go: bool  # an exception, or an earlier reason, let it go
    wrong: str | None  # a "looks wrong" report: open | confirmed | rejected


_EVIDENCE = TypeAdapter(Evidence)
_DECISION = TypeAdapter(Decision)


def row_of(inspection: Inspection, report: Report, translations: dict[str, Report] | None = None) -> dict[str, Any]:
    """A decision as the store keeps it, in JSON (so it can wait in the spool as it is)."""
    upload = inspection.upload
    return {
        "id": report.decision_id, "created": datetime.now(UTC).isoformat(), "user": upload.user,
        "group": upload.group, "client_ip": upload.client_ip, "channel": upload.channel.value,
        "destination": report.destination.url, "destination_host": report.destination.host,
        "file_name": report.file, "size": report.size, "sha256": report.sha256, "file_type": report.file_type.mime,
        "decision": report.decision.value, "rules": [r.rule for r in report.reasons],
        "alternatives": [a.id for a in report.alternatives], "report": report.model_dump(mode="json"),
        "justified_by": report.justified_by,
        "translations": {language: translated.model_dump(mode="json")
                         for language, translated in (translations or {}).items()} or None,
        "evidence": _EVIDENCE.dump_python(inspection.evidence, mode="json"),
        "outcome": _DECISION.dump_python(inspection.decision, mode="json"),
        "policy_digest": inspection.policy_digest, "failure": inspection.failure, "who": inspection.who,
        "api_client": upload.api_client,
        "exemption_id": inspection.decision.exemption.id if inspection.decision.exemption else None,
        "would": inspection.decision.would.value if inspection.decision.would else None,
        "partial": inspection.evidence.partial or not inspection.evidence.traced or inspection.evidence.skipped,
        "looked_for": list(inspection.evidence.looked_for) if inspection.evidence.looked_for is not None else None,
    }


def stored_from_row(row: dict[str, Any], language: str | None) -> StoredDecision:
    """A decision not in the store yet (still on its way: queued or spooled), as the page shows it."""
    report = (row.get("translations") or {}).get(language or "", row["report"])
    return StoredDecision(row["id"], Report.model_validate(report),
                          History(aware(datetime.fromisoformat(row["created"])), client_ip=row.get("client_ip")),
                          recording=True)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'detour.db'}"


def store_url(settings: Settings) -> str:
    """Where the decision store is: DETOUR_DATABASE_URL, else SQLite in DETOUR_DATA_DIR."""
    return settings.database_url or sqlite_url(settings.data_dir)


class DecisionStore:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # orjson reads the JSON columns (decisions' evidence and outcome): several times faster than json, which a
        # simulation replaying a week of decisions and an export feel; what is written stays json's (text)
        self.engine: Engine = create_engine(url, pool_pre_ping=True, json_deserializer=orjson.loads)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        upgrade(self.engine)

    def record(self, inspection: Inspection, report: Report, translations: dict[str, Report] | None = None) -> None:
        """Store a decision; ``translations``: the same report in the other languages, for the page."""
        self.insert([row_of(inspection, report, translations)])

    def insert(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store decisions given as ``row_of`` rows, in one transaction; a decision already stored is left as it
        is (a spool replayed after a crash writes each decision once). Returns how many were new."""
        ids = [row["id"] for row in rows]
        with self._sessions.begin() as session:
            present = set(session.scalars(select(DecisionRow.id).where(DecisionRow.id.in_(ids))))
            fresh = [DecisionRow(**{**row, "created": datetime.fromisoformat(row["created"])})
                     for row in rows if row["id"] not in present]
            session.add_all(fresh)
            return len(fresh)

    def get(self, decision_id: str, language: str | None = None) -> StoredDecision | None:
        """The decision with what happened since; its report in ``language`` when it was rendered in it."""
        with self._sessions() as session:
            row = session.get(DecisionRow, decision_id)
            if row is None:
                return None
            taken = session.scalars(select(RouteTakenRow.alternative_id)
                                    .where(RouteTakenRow.decision_id == decision_id)
                                    .order_by(RouteTakenRow.id)).all()
            reviews = session.scalars(select(ReviewRequestRow).where(ReviewRequestRow.decision_id == decision_id)
                                      .order_by(ReviewRequestRow.id)).all()
            wrong = session.scalars(select(WrongReportRow).where(WrongReportRow.decision_id == decision_id)
                                    .order_by(WrongReportRow.id.desc()).limit(1)).first()
            justification = session.scalars(select(JustificationRow)
                                            .where(JustificationRow.decision_id == decision_id)
                                            .order_by(JustificationRow.id.desc()).limit(1)).first()
            tickets = session.scalars(select(TicketRow).where(TicketRow.decision_id == decision_id)
                                      .order_by(TicketRow.id)).all()
            report = (row.translations or {}).get(language or "", row.report)
            history = History(
                aware(row.created), tuple(taken),
                tuple(ReviewRequest(r.tool, r.why, r.needed_by, r.status, aware(r.created), r.answer,
                                    _until(session, r.exemption_id)) for r in reviews),
                wrong is not None,
                Justification(justification.justification, aware(justification.created),
                              aware(justification.expires)) if justification else None,
                tuple(Ticket(t.id, t.event, t.status, t.remote_id, aware(t.created)) for t in tickets),
                row.client_ip,
                wrong.status if wrong is not None else None,
                wrong.answer if wrong is not None else None,
            )
            return StoredDecision(row.id, Report.model_validate(report), history)

    def inspection(self, decision_id: str) -> Inspection | None:
        """The decision as it was made, language-neutral: to decide it again or render it in any language.
        None for an unknown id, or a decision recorded before Detour kept these (migration 0004)."""
        with self._sessions() as session:
            row = session.get(DecisionRow, decision_id)
            if row is None or row.evidence is None or row.outcome is None:
                return None
            upload = Upload(file_name=row.file_name, destination=row.destination, size=row.size, sha256=row.sha256,
                            user=row.user, group=row.group, channel=Channel(row.channel), client_ip=row.client_ip,
                            api_client=row.api_client)
            return Inspection(upload, _EVIDENCE.validate_python(row.evidence), _DECISION.validate_python(row.outcome),
                              row.policy_digest or "", row.failure, row.who)

    def recent_of(self, who: str, since: datetime, limit: int) -> list[RecentStop]:
        """The decisions one person sent since ``since`` (by ``who``, the keyed hash of their user name), newest
        first, with what became of each: routes taken, review requests and their answers, a reason given, an
        exception that let it go, a "looks wrong" report and IT's verdict."""
        with self._sessions() as session:
            rows = session.execute(
                select(DecisionRow.id, DecisionRow.created, DecisionRow.file_name, DecisionRow.destination_host,
                       DecisionRow.decision, DecisionRow.exemption_id, DecisionRow.justified_by)
                .where(DecisionRow.who == who, DecisionRow.user.is_not(None), DecisionRow.created >= since)
                .order_by(DecisionRow.created.desc()).limit(limit)).all()
            ids = [row.id for row in rows]
            taken = {d for (d,) in session.execute(
                select(RouteTakenRow.decision_id).where(RouteTakenRow.decision_id.in_(ids)))}
            reviews: dict[str, list[str]] = {}
            for decision_id, status in session.execute(
                    select(ReviewRequestRow.decision_id, ReviewRequestRow.status)
                    .where(ReviewRequestRow.decision_id.in_(ids)).order_by(ReviewRequestRow.id)):
                reviews.setdefault(decision_id, []).append(status)
            reasons = {d for (d,) in session.execute(
                select(JustificationRow.decision_id).where(JustificationRow.decision_id.in_(ids)))}
            wrong = {decision_id: status for decision_id, status in session.execute(  # the newest report wins
                select(WrongReportRow.decision_id, WrongReportRow.status).where(WrongReportRow.decision_id.in_(ids))
                .order_by(WrongReportRow.id))}
            return [RecentStop(row.id, aware(row.created), row.file_name, row.destination_host, row.decision,
                               row.id in taken, tuple(reviews.get(row.id, ())), row.id in reasons,
                               row.exemption_id is not None or row.justified_by is not None, wrong.get(row.id))
                    for row in rows]

    def sender_of(self, decision_id: str) -> tuple[str | None, str | None, str | None]:
        """Who sent a decision: the keyed hash, the user name the channel named (None: only an address was
        known, which may be several people's) and the channel."""
        with self._sessions() as session:
            row = session.execute(select(DecisionRow.who, DecisionRow.user, DecisionRow.channel)
                                  .where(DecisionRow.id == decision_id)).first()
            return (row.who, row.user, row.channel) if row is not None else (None, None, None)

    def route_taken(self, decision_id: str, alternative_id: str) -> None:
        with self._sessions.begin() as session:
            session.add(RouteTakenRow(decision_id=decision_id, alternative_id=alternative_id,
                                      taken=datetime.now(UTC)))

    def request_review(self, decision_id: str, tool: str, why: str, needed_by: str) -> None:
        with self._sessions.begin() as session:
            session.add(ReviewRequestRow(decision_id=decision_id, created=datetime.now(UTC), tool=tool, why=why,
                                         needed_by=needed_by, status="open"))

    def report_wrong(self, decision_id: str, believed: str) -> None:
        with self._sessions.begin() as session:
            session.add(WrongReportRow(decision_id=decision_id, created=datetime.now(UTC), believed=believed,
                                       status="open"))

    def justify(self, decision_id: str, text: str, minutes: int) -> Justification:
        """Record a business justification for a warning; until it expires, the same file may go to
        the same host from the same person (``justified``). Raises ``Anonymous`` for a decision whose
        sender nobody knows: a reason from nobody would let anybody through."""
        now = datetime.now(UTC)
        with self._sessions.begin() as session:
            row = session.get(DecisionRow, decision_id)
            if row is None:
                raise KeyError(decision_id)
            if row.who is None:
                raise Anonymous(decision_id)
            justification = JustificationRow(decision_id=decision_id, created=now,
                                             expires=now + timedelta(minutes=minutes), justification=text,
                                             sha256=row.sha256, destination_host=row.destination_host, who=row.who)
            session.add(justification)
        return Justification(text, now, justification.expires)

    def justified(self, sha256: str, destination_host: str, who: str) -> str | None:
        """The decision whose justification, still valid, covers this file to this host from this person
        (``who``: the keyed hash the pipeline makes of the user, else the client address)."""
        with self._sessions() as session:
            return session.scalars(
                select(JustificationRow.decision_id)
                .where(JustificationRow.sha256 == sha256, JustificationRow.destination_host == destination_host,
                       JustificationRow.who == who,
                       JustificationRow.expires > datetime.now(UTC))
                .order_by(JustificationRow.id.desc()).limit(1)).first()

    def add_ticket(self, decision_id: str, event: str, payload: dict[str, Any]) -> int:
        """Queue a message for the helpdesk webhook (the outbox)."""
        now = datetime.now(UTC)
        with self._sessions.begin() as session:  # claimed by its submitter, who tries it at once
            row = TicketRow(decision_id=decision_id, created=now, event=event, payload=payload, status="pending",
                            attempts=0, next_attempt=now + TICKET_LEASE)
            session.add(row)
            session.flush()
            return row.id

    def outbox(self) -> dict[str, int]:
        """The helpdesk webhook's messages not delivered yet: pending (to be tried) and failed (given up)."""
        with self._sessions() as session:
            rows = session.execute(select(TicketRow.status, func.count()).where(
                TicketRow.status.in_(("pending", "failed"))).group_by(TicketRow.status)).all()
            return {status: count for status, count in rows}

    def due_tickets(self, limit: int = 50) -> list[PendingTicket]:
        """Claim the tickets whose next attempt is due, oldest first. A claim pushes the next attempt a
        lease ahead, so another Detour sharing the database does not deliver the same ticket meanwhile."""
        now = datetime.now(UTC)
        with self._sessions.begin() as session:
            query = (select(TicketRow).where(TicketRow.status == "pending",
                                             or_(TicketRow.next_attempt.is_(None), TicketRow.next_attempt <= now))
                     .order_by(TicketRow.id).limit(limit))
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = session.scalars(query).all()
            for row in rows:
                row.next_attempt = now + TICKET_LEASE
            return [PendingTicket(r.id, r.event, dict(r.payload), r.attempts) for r in rows]

    def ticket_attempted(self, ticket_id: int, *, sent: bool, error: str | None = None,
                         remote_id: str | None = None, retry_in: timedelta | None = None) -> None:
        """After a delivery attempt: sent, or pending again after ``retry_in``, or failed for good."""
        status = "sent" if sent else "pending" if retry_in is not None else "failed"
        next_attempt = datetime.now(UTC) + retry_in if retry_in is not None and not sent else None
        with self._sessions.begin() as session:
            session.execute(update(TicketRow).where(TicketRow.id == ticket_id).values(
                status=status, attempts=TicketRow.attempts + 1, next_attempt=next_attempt,
                last_error=(error or "")[:500] or None, remote_id=(remote_id or "")[:200] or None))

    def session(self) -> Session:
        return self._sessions()

    def close(self) -> None:
        self.engine.dispose()


MIGRATION_LOCK = 0x64657430  # "det0": the advisory lock replicas take while migrating (PostgreSQL)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent). On PostgreSQL, replicas starting together take
    turns (an advisory lock held for the transaction): the first migrates, the others find it done."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _until(session: Session, exemption_id: int | None) -> datetime | None:
    exemption = session.get(ExemptionRow, exemption_id) if exemption_id is not None else None
    return aware(exemption.expires) if exemption is not None else None


def aware(moment: datetime) -> datetime:
    """A time read back from the store, in UTC: SQLite gives back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=1000")  # short: the writer spools rather than waits (store.recorder)
    cursor.close()
