"""The call list filtered by intent: a turn index that goes from intent and time to calls.

Revision ID: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_turns_intent_at_call", "turns", ["intent", "at", "call_id"])


def downgrade() -> None:
    op.drop_index("ix_turns_intent_at_call", "turns")
