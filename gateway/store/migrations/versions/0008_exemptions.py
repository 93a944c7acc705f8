"""Exceptions IT grants (approving a review request): scoped to a host, a user, group or everyone, some data
classes, allow or warn, until they expire; decisions and approvals name the exception.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exemptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("destination_host", sa.String(256), nullable=False),
        sa.Column("user", sa.String(256), nullable=True),
        sa.Column("group", sa.String(256), nullable=True),
        sa.Column("data_classes", sa.JSON, nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False, server_default=""),
        sa.Column("review_id", sa.Integer, nullable=True),
        sa.Column("decision_id", sa.String(32), nullable=True),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
    )
    op.create_index("ix_exemptions_expires", "exemptions", ["expires"])
    op.add_column("decisions", sa.Column("exemption_id", sa.Integer, nullable=True))
    op.create_index("ix_decisions_exemption_id", "decisions", ["exemption_id"])
    op.add_column("review_requests", sa.Column("exemption_id", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_requests") as batch:
        batch.drop_column("exemption_id")
    op.drop_index("ix_decisions_exemption_id", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("exemption_id")
    op.drop_index("ix_exemptions_expires", table_name="exemptions")
    op.drop_table("exemptions")
