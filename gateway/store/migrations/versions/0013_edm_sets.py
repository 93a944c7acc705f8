"""Exact data match sets in the store, not in files of one host's data folder, so every replica finds the same
records: the set's columns, size and threshold, and its fingerprints (keyed hashes of the registered values,
compressed). A set registered now is keyed by DETOUR_HASH_KEY (``key`` empty); a set moved in from an older
file keeps the key it was made with, wrapped with one derived from DETOUR_HASH_KEY: the store alone can't be
tested against guesses. ``key_check`` tells whether the key in use is the set's (another DETOUR_HASH_KEY would
otherwise make the set silently match nothing).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edm_sets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("min_fields", sa.Integer, nullable=False),
        sa.Column("key", sa.String(64), nullable=True),
        sa.Column("key_check", sa.String(64), nullable=False),
        sa.Column("fingerprints", sa.LargeBinary, nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("edm_sets")
