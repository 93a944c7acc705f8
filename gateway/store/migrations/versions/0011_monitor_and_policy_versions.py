"""Rules in monitor mode: what they would have done (``would``: block or warn) is kept with each decision, so
the explorer can find and count it; and every policy version that decided uploads is kept (its files, when and
how it was loaded), so a decision's ``policy_digest`` leads to the policy that made it and two versions can be
compared.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("would", sa.String(8), nullable=True))
    op.create_index("ix_decisions_would", "decisions", ["would"])
    op.create_table(
        "policy_versions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("first_loaded", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_loaded", sa.DateTime(timezone=True), nullable=False),
        sa.Column("how", sa.String(100), nullable=False),
    )
    op.create_index("ix_policy_versions_last_loaded", "policy_versions", ["last_loaded"])


def downgrade() -> None:
    op.drop_index("ix_policy_versions_last_loaded", table_name="policy_versions")
    op.drop_table("policy_versions")
    op.drop_index("ix_decisions_would", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("would")
