"""Alembic migrations of the store, run by ``callbot.store.database.migrate``."""
