"""Record decisions and the routes people take; read them back for the decision page.

SQLite in ``DETOUR_DATA_DIR`` by default (WAL journal, so readers never wait
for the writer); any SQLAlchemy URL in ``DETOUR_DATABASE_URL``. The schema is
created and upgraded by the Alembic migrations in ``migrations/`` when the store
opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.model import Upload
from gateway.report import Report
from gateway.store.models import DecisionRow, ReviewRequestRow, RouteTakenRow, WrongReportRow

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class ReviewRequest:
    tool: str
    why: str
    needed_by: str
    status: str
    created: datetime


@dataclass(frozen=True)
class StoredDecision:
    id: str
    created: datetime
    report: Report
    routes_taken: tuple[str, ...]
    reviews: tuple[ReviewRequest, ...] = ()
    reported_wrong: bool = False


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'detour.db'}"


class DecisionStore:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        upgrade(self.engine)

    def record(self, report: Report, upload: Upload) -> None:
        row = DecisionRow(
            id=report.decision_id, created=datetime.now(UTC), user=upload.user, group=upload.group,
            client_ip=upload.client_ip, channel=upload.channel, destination=report.destination.url,
            destination_host=report.destination.host, file_name=report.file, size=report.size,
            sha256=report.sha256, file_type=report.file_type.mime, decision=report.decision.value,
            rules=[r.rule for r in report.reasons], alternatives=[a.id for a in report.alternatives],
            report=report.model_dump(mode="json"),
        )
        with self._sessions.begin() as session:
            session.add(row)

    def get(self, decision_id: str) -> StoredDecision | None:
        with self._sessions() as session:
            row = session.get(DecisionRow, decision_id)
            if row is None:
                return None
            taken = session.scalars(select(RouteTakenRow.alternative_id)
                                    .where(RouteTakenRow.decision_id == decision_id)
                                    .order_by(RouteTakenRow.id)).all()
            reviews = session.scalars(select(ReviewRequestRow).where(ReviewRequestRow.decision_id == decision_id)
                                      .order_by(ReviewRequestRow.id)).all()
            wrong = session.scalars(select(WrongReportRow.id).where(WrongReportRow.decision_id == decision_id)
                                    .limit(1)).first()
            return StoredDecision(row.id, row.created, Report.model_validate(row.report), tuple(taken),
                                  tuple(ReviewRequest(r.tool, r.why, r.needed_by, r.status, r.created)
                                        for r in reviews), wrong is not None)

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
            session.add(WrongReportRow(decision_id=decision_id, created=datetime.now(UTC), believed=believed))

    def session(self) -> Session:
        return self._sessions()

    def close(self) -> None:
        self.engine.dispose()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
