"""What a replay of a decision under a draft policy needs to know without reading its findings: ``partial``, the
decision was made on part of the upload's findings (an early decision, findings too many to keep one by one, or
content not read), so a replay reads its findings; and ``looked_for``, the detectors the upload was read for when
fewer than its policy had, so a replay under a draft that needs others knows it can't be sure.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("partial", sa.Boolean, nullable=True))
    op.add_column("decisions", sa.Column("looked_for", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("looked_for")
        batch.drop_column("partial")
