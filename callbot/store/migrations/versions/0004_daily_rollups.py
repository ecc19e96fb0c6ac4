"""Daily rollups of the dashboard figures, and a partial index for "not understood".

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callbot.store.schema import NOT_UNDERSTOOD_SQL

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_rollups",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    where = sa.text(NOT_UNDERSTOOD_SQL)
    op.create_index("ix_turns_not_understood", "turns", ["at", "intent", "call_id"],
                    sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index("ix_turns_not_understood", "turns")
    op.drop_table("daily_rollups")
