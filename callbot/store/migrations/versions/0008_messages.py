"""Messages left out of hours (issue 15, item 3), for the dashboard's "Messages et rappels".

No foreign key to ``calls``: see ``callbot.store.schema.messages``.

Revision ID: 0008
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
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("callback", sa.String(64), nullable=False),
        sa.Column("wants_callback", sa.Boolean, nullable=False),
        sa.Column("mailed_to", sa.String(254), nullable=False),
        sa.Column("mail_error", sa.String(300), nullable=False),
        sa.Column("done_at", sa.DateTime),
        sa.Column("done_by", sa.String(64)),
    )
    op.create_index("ix_messages_call_id", "messages", ["call_id"])
    op.create_index("ix_messages_done_created", "messages", ["done_at", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_done_created", "messages")
    op.drop_index("ix_messages_call_id", "messages")
    op.drop_table("messages")
