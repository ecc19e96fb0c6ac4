"""Call log, accounts and knowledge-base revisions: SQLAlchemy async on SQLite or PostgreSQL."""
