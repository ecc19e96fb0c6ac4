"""Initial tables: call log, accounts, audit log, knowledge-base revisions.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _call_child(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        *columns,
        sa.UniqueConstraint("call_id", "seq", name=f"uq_{name}_call_seq"),
    )


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("hour", sa.SmallInteger, nullable=False),
        sa.Column("caller", sa.String(32)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("transfer_reason", sa.String(64)),
        sa.Column("detail", sa.String(200)),
        sa.Column("duration_sec", sa.Float),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_day", "calls", ["day"])
    _call_child(
        "turns",
        sa.Column("caller_text", sa.Text),
        sa.Column("intent", sa.String(64)),
        sa.Column("confidence", sa.Float),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("kb_entry", sa.String(64)),
        sa.Column("kb_revision", sa.String(64)),
        sa.Column("bot_text", sa.Text),
        sa.Column("transfer_reason", sa.String(64)),
        sa.Column("latency_ms", sa.Float),
        sa.Column("latencies", sa.Text),
    )
    op.create_index("ix_turns_at", "turns", ["at"])
    op.create_index("ix_turns_intent", "turns", ["intent"])
    _call_child("line_events", sa.Column("kind", sa.String(16), nullable=False),
                sa.Column("detail", sa.Text))
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_login", sa.DateTime),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "kb_revisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("comment", sa.String(300)),
        sa.Column("kb_text", sa.Text, nullable=False),
        sa.Column("examples_text", sa.Text, nullable=False),
        sa.Column("kb_revision", sa.String(64), nullable=False),
        sa.Column("topics", sa.String(500)),
        sa.Column("diff", sa.Text),
    )


def downgrade() -> None:
    for table in ("kb_revisions", "audit_log", "web_sessions", "users", "line_events", "turns",
                  "calls"):
        op.drop_table(table)
