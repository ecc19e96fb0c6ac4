"""The campaign tables ("aller vers", issue 16), on the call log's ``metadata``.

A campaign owns its contacts, their attempts and their "in a call" locks (``ON DELETE
CASCADE``): the retention purge deletes the campaign row and everything personal goes with it.
The do-not-call list is the town's, shared by every campaign, and outlives them: it keeps only
the keyed pseudonym of a number (``callbot.privacy.pseudonymise``), so it can say "this number
asked not to be called" without keeping the number itself.

``campaign_calls`` is what keeps two campaigns (or two processes) from calling one person at
once: a row per person in a call, its primary key the person's pseudonym, inserted in the same
transaction that marks the contact ``dialing``; the second insert fails.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text

from callbot.store.schema import metadata

campaigns = Table(
    "campaigns", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # heatwave, reminder, question
    Column("town", String(100), nullable=False),
    Column("message", Text, nullable=False),  # with {fields}
    Column("question", Text, nullable=False),  # "" for a reminder
    Column("callback_number", String(32), nullable=False),  # the town's, E.164
    Column("caller_id", String(32), nullable=False),  # presented to the people called
    Column("service", String(64), nullable=False),  # whose agents get the callback tasks
    Column("transfer", Boolean, nullable=False),  # put people in need through to the agent
    Column("emergency", Boolean, nullable=False),
    Column("window_start", String(5), nullable=False),  # "09:00", the town's local time
    Column("window_end", String(5), nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("retry_after_sec", Float, nullable=False),
    Column("max_lines", Integer, nullable=False),
    Column("pacing_sec", Float, nullable=False),
    Column("retention_days", Integer, nullable=False),
    Column("fields", Text, nullable=False),  # JSON list of the list's extra columns
    Column("source", String(200), nullable=False),  # the imported file's name
    Column("status", String(16), nullable=False),  # ready, running, finished
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("finished_at", DateTime),
    Column("expires_at", DateTime, nullable=False, index=True),  # purged after this
)

campaign_contacts = Table(
    "campaign_contacts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("line", Integer, nullable=False),  # of the imported file
    Column("name", String(200), nullable=False),
    Column("phone", String(32), nullable=False),  # E.164: dialed, shown to agents, never logged
    Column("phone_key", String(32), nullable=False, index=True),  # keyed pseudonym
    Column("fields", Text, nullable=False),  # JSON
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", DateTime),
    Column("last_result", String(16)),
    Column("voicemail_left", Boolean, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_campaign_contacts_campaign_status", "campaign_id", "status"),
)

campaign_attempts = Table(
    "campaign_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("contact_id", Integer, ForeignKey("campaign_contacts.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("number", Integer, nullable=False),  # 1, 2, 3…
    Column("call_id", String(64), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("answered_at", DateTime),
    Column("ended_at", DateTime),
    Column("result", String(16)),  # NULL: going on (or cut by a restart, until the next run)
    Column("detail", String(300)),  # why, redacted
)

campaign_calls = Table(
    "campaign_calls", metadata,
    Column("phone_key", String(32), primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", Integer, ForeignKey("campaign_contacts.id", ondelete="CASCADE"),
           nullable=False, unique=True),
    Column("since", DateTime, nullable=False),
)

do_not_call = Table(
    "do_not_call", metadata,
    Column("phone_key", String(32), primary_key=True),
    Column("added_at", DateTime, nullable=False),
    Column("source", String(64), nullable=False),  # "campaign 3", "cli:agent"…
)
