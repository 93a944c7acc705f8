""""Looks wrong" reports get IT's verdict (open, confirmed as a false positive, rejected) with its words; an
exception can be narrowed to one file (its SHA-256), for a confirmed false positive.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("wrong_reports", sa.Column("status", sa.String(16), nullable=False, server_default="open"))
    op.add_column("wrong_reports", sa.Column("answered", sa.DateTime(timezone=True), nullable=True))
    op.add_column("wrong_reports", sa.Column("answered_by", sa.String(100), nullable=True))
    op.add_column("wrong_reports", sa.Column("answer", sa.String(2000), nullable=True))
    op.add_column("wrong_reports", sa.Column("exemption_id", sa.Integer, nullable=True))
    op.add_column("exemptions", sa.Column("sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exemptions") as batch:
        batch.drop_column("sha256")
    with op.batch_alter_table("wrong_reports") as batch:
        for column in ("exemption_id", "answer", "answered_by", "answered", "status"):
            batch.drop_column(column)
