"""Decisions, and the alternative routes people take.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(256)),
        sa.Column("group", sa.String(256)),
        sa.Column("client_ip", sa.String(64)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(2048), nullable=False),
        sa.Column("destination_host", sa.String(256), nullable=False),
        sa.Column("file_name", sa.String(1024), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_type", sa.String(256), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("alternatives", sa.JSON, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
    )
    op.create_index("ix_decisions_created", "decisions", ["created"])
    op.create_index("ix_decisions_destination_host", "decisions", ["destination_host"])
    op.create_index("ix_decisions_decision", "decisions", ["decision"])
    op.create_table(
        "routes_taken",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("alternative_id", sa.String(128), nullable=False),
        sa.Column("taken", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_routes_taken_decision", "routes_taken", ["decision_id"])


def downgrade() -> None:
    op.drop_table("routes_taken")
    op.drop_table("decisions")
