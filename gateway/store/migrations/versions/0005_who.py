"""Who sent an upload, as a keyed hash: what a business justification matches, instead of the name itself.

Justifications recorded before this keep the form they had (``user:<name>``); they expire within the
justification time (30 minutes by default), after which only keyed hashes remain.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("who", sa.String(64), nullable=True))
    op.create_index("ix_decisions_who", "decisions", ["who"])


def downgrade() -> None:
    op.drop_index("ix_decisions_who", "decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("who")
