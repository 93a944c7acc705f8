"""The decision in every language, business justifications for warnings, helpdesk tickets.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The report rendered in each language at decision time: the page can switch language
    # without re-deciding under a policy that may have changed since.
    op.add_column("decisions", sa.Column("translations", sa.JSON, nullable=True))
    op.add_column("decisions", sa.Column("justified_by", sa.String(32), nullable=True))
    op.create_table(
        "justifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("justification", sa.String(1000), nullable=False),
        # What the justification lets through: the same file, to the same host, from the same person.
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("destination_host", sa.String(256), nullable=False),
        sa.Column("who", sa.String(256), nullable=False),
    )
    op.create_index("ix_justifications_decision", "justifications", ["decision_id"])
    op.create_index("ix_justifications_match", "justifications", ["sha256", "destination_host"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending | sent | failed
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("remote_id", sa.String(200), nullable=True),
    )
    op.create_index("ix_tickets_decision", "tickets", ["decision_id"])
    op.create_index("ix_tickets_status", "tickets", ["status", "next_attempt"])


def downgrade() -> None:
    op.drop_table("tickets")
    op.drop_table("justifications")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("justified_by")
        batch.drop_column("translations")
