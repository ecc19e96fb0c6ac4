"""Covering indexes for the dashboard: a period's figures come from the index alone.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_day_stats", "calls", ["day", "outcome", "duration_sec", "hour"])
    op.create_index("ix_turns_at_stats", "turns", ["at", "intent", "action", "latency_ms"])


def downgrade() -> None:
    op.drop_index("ix_turns_at_stats", "turns")
    op.drop_index("ix_calls_day_stats", "calls")
