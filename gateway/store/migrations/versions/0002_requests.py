"""Review requests and "this looks wrong" reports from the decision page.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tool", sa.String(200), nullable=False),
        sa.Column("why", sa.String(2000), nullable=False),
        sa.Column("needed_by", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_review_requests_decision", "review_requests", ["decision_id"])
    op.create_table(
        "wrong_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("believed", sa.String(2000), nullable=False),
    )
    op.create_index("ix_wrong_reports_decision", "wrong_reports", ["decision_id"])


def downgrade() -> None:
    op.drop_table("wrong_reports")
    op.drop_table("review_requests")
