"""IT's work on its queues: a review request or "looks wrong" report assigned to a reviewer, and comments; an
exception covers hosts under its destination only when asked to.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exemptions", sa.Column("subdomains", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("review_requests", sa.Column("assigned_to", sa.String(100), nullable=True))
    op.add_column("wrong_reports", sa.Column("assigned_to", sa.String(100), nullable=True))
    op.create_table(
        "queue_comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("item_id", sa.Integer, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
    )
    op.create_index("ix_queue_comments_item", "queue_comments", ["kind", "item_id"])


def downgrade() -> None:
    op.drop_index("ix_queue_comments_item", table_name="queue_comments")
    op.drop_table("queue_comments")
    with op.batch_alter_table("wrong_reports") as batch:
        batch.drop_column("assigned_to")
    with op.batch_alter_table("review_requests") as batch:
        batch.drop_column("assigned_to")
    with op.batch_alter_table("exemptions") as batch:
        batch.drop_column("subdomains")
