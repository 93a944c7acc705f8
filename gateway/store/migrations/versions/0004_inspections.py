"""The decision language-neutral: evidence per detector (masked), the decision, the policy digest.

With these a recorded decision can be decided again under another policy (simulation, replay) and
rendered in any language. Masked examples and keyed hashes only, never a raw value.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("evidence", sa.JSON, nullable=True))
    op.add_column("decisions", sa.Column("outcome", sa.JSON, nullable=True))
    op.add_column("decisions", sa.Column("policy_digest", sa.String(64), nullable=True))
    op.add_column("decisions", sa.Column("failure", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        for column in ("failure", "policy_digest", "outcome", "evidence"):
            batch.drop_column(column)
