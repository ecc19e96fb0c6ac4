"""The tables, as SQLAlchemy Core objects the queries use (migrations create them)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData()

#: The turns the "not understood" list is made of; literal, so that the partial index
#: ``ix_turns_not_understood`` provably applies to the query (SQLite and PostgreSQL).
NOT_UNDERSTOOD_SQL = ("(intent IN ('nlu_fallback', 'out_of_scope') "
                      "OR action IN ('clarify', 'transfer'))")

calls = Table(
    "calls", metadata,
    Column("id", String(64), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("started_at", DateTime, nullable=False, index=True),
    Column("ended_at", DateTime),
    Column("day", String(10), nullable=False, index=True),  # local date, for trends
    Column("hour", SmallInteger, nullable=False),  # local hour, for calls per hour
    Column("caller", String(32)),  # keyed pseudonym, never the number
    Column("outcome", String(16)),  # resolved, transferred, transfer_failed, abandoned, error; NULL: going on
    Column("transfer_reason", String(64)),
    Column("detail", String(200)),
    Column("duration_sec", Float),
    Column("node", String(80)),  # host:pid of the process that took the call
    Index("ix_calls_day_stats", "day", "outcome", "duration_sec", "hour"),
    Index("ix_calls_open_node", "outcome", "node"),
)

turns = Table(
    "turns", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(64), ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", DateTime, nullable=False, index=True),
    Column("caller_text", Text),  # redacted
    Column("intent", String(64), index=True),
    Column("confidence", Float),
    Column("action", String(16), nullable=False),
    Column("kb_entry", String(64)),
    Column("kb_revision", String(64)),
    Column("bot_text", Text),
    Column("transfer_reason", String(64)),
    Column("latency_ms", Float),
    Column("latencies", Text),  # JSON of the per-stage latencies
    UniqueConstraint("call_id", "seq", name="uq_turns_call_seq"),
    Index("ix_turns_at_stats", "at", "intent", "action", "latency_ms"),
    Index("ix_turns_intent_at_call", "intent", "at", "call_id"),
    Index("ix_turns_not_understood", "at", "intent", "call_id",
          sqlite_where=text(NOT_UNDERSTOOD_SQL), postgresql_where=text(NOT_UNDERSTOOD_SQL)),
)

#: Per-day counts of the dashboard (outcomes, hours, duration and latency histograms,
#: intents) for days that are over; see ``callbot.store.rollups``.
daily_rollups = Table(
    "daily_rollups", metadata,
    Column("day", String(10), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("n", Integer, nullable=False),
)

line_events = Table(
    "line_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(64), ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", DateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("detail", Text),
    UniqueConstraint("call_id", "seq", name="uq_line_events_call_seq"),
)

#: Messages left while a department is closed. ``call_id`` has no foreign key on purpose:
#: the message is written at once while the call log writes the call through its queue (or
#: its spool, when the database was away), so the call row may come later; the retention
#: purge deletes the messages of purged calls explicitly.
messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(64), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
    Column("service", String(64), nullable=False),  # the knowledge base's service id
    Column("text", Text, nullable=False),  # the transcript, redacted
    Column("callback", String(64), nullable=False),  # as given: agents dial it; never logged
    Column("wants_callback", Boolean, nullable=False),
    Column("mailed_to", String(254), nullable=False),  # "": not sent
    Column("mail_error", String(300), nullable=False),  # "": sent, or not tried
    Column("done_at", DateTime),
    Column("done_by", String(64)),
    Index("ix_messages_done_created", "done_at", "created_at"),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # admin, editor, ops
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_login", DateTime),
    # the first admin's printed password works once: the first login asks for a new one
    Column("password_expired", Boolean, nullable=False, default=False, server_default=false()),
)

web_sessions = Table(
    "web_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie value
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("username", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200)),
    Column("detail", Text),
)

kb_revisions = Table(
    "kb_revisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime, nullable=False),
    Column("author", String(64), nullable=False),
    Column("comment", String(300)),
    Column("kb_text", Text, nullable=False),
    Column("examples_text", Text, nullable=False),
    Column("kb_revision", String(64), nullable=False),  # the hash answers carry in their "why"
    Column("topics", String(500)),  # topics changed by this revision, comma-separated
    Column("diff", Text),
    Column("topic_files", Text),  # JSON: name of each topics/*.yml file → its text
)
