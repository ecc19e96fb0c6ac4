"""Campaigns (issue 16, "aller vers"): campaigns, their contacts, attempts and in-call locks,
and the town's do-not-call list. See ``callbot.store.campaign_schema``.

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_CASCADE = {"ondelete": "CASCADE"}


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("town", sa.String(100), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("callback_number", sa.String(32), nullable=False),
        sa.Column("caller_id", sa.String(32), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("transfer", sa.Boolean, nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False),
        sa.Column("window_start", sa.String(5), nullable=False),
        sa.Column("window_end", sa.String(5), nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("retry_after_sec", sa.Float, nullable=False),
        sa.Column("max_lines", sa.Integer, nullable=False),
        sa.Column("pacing_sec", sa.Float, nullable=False),
        sa.Column("retention_days", sa.Integer, nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_campaigns_expires_at", "campaigns", ["expires_at"])
    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", **_CASCADE),
                  nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("phone_key", sa.String(32), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime),
        sa.Column("last_result", sa.String(16)),
        sa.Column("voicemail_left", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_campaign_contacts_phone_key", "campaign_contacts", ["phone_key"])
    op.create_index("ix_campaign_contacts_campaign_status", "campaign_contacts",
                    ["campaign_id", "status"])
    op.create_table(
        "campaign_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", **_CASCADE),
                  nullable=False),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("campaign_contacts.id", **_CASCADE),
                  nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("answered_at", sa.DateTime),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("result", sa.String(16)),
        sa.Column("detail", sa.String(300)),
    )
    op.create_index("ix_campaign_attempts_campaign_id", "campaign_attempts", ["campaign_id"])
    op.create_index("ix_campaign_attempts_contact_id", "campaign_attempts", ["contact_id"])
    op.create_table(
        "campaign_calls",
        sa.Column("phone_key", sa.String(32), primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", **_CASCADE),
                  nullable=False),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("campaign_contacts.id", **_CASCADE),
                  nullable=False, unique=True),
        sa.Column("since", sa.DateTime, nullable=False),
    )
    op.create_table(
        "do_not_call",
        sa.Column("phone_key", sa.String(32), primary_key=True),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("do_not_call", "campaign_calls", "campaign_attempts", "campaign_contacts",
                  "campaigns"):
        op.drop_table(table)
