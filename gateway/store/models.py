"""Tables of the decision store (SQLAlchemy 2). Changes go through an Alembic migration in migrations/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, String
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


class RouteTakenRow(Base):
    """Someone followed an alternative route offered with a decision."""

    __tablename__ = "routes_taken"
    __table_args__ = (Index("ix_routes_taken_decision", "decision_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    alternative_id: Mapped[str] = mapped_column(String(128))
    taken: Mapped[datetime] = mapped_column(DateTime(timezone=True))
