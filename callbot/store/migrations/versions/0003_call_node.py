"""Which callbot process took each call (``host:pid``), so a restart closes only its own.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("node", sa.String(80)))
    op.create_index("ix_calls_open_node", "calls", ["outcome", "node"])


def downgrade() -> None:
    op.drop_index("ix_calls_open_node", "calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("node")
