"""Opening the database: an async engine for SQLite or PostgreSQL, migrated to the head.

SQLite runs in WAL mode with a busy timeout (the bot and the web app share the file),
foreign keys on (a purge cascades to turns and events) and ``secure_delete`` on, so a
purged transcript is overwritten in the file, not merely unlinked.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from callbot.config import StoreSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_SEC = 5.0
# Alembic keeps its migration context in a module global: two upgrades at once in one
# process (the call log's writer thread and the web app under `serve --web`) would
# tear each other's context down (KeyError: 'config').
_UPGRADE_LOCK = threading.Lock()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    for pragma in ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
                   "foreign_keys=ON", "secure_delete=ON", "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def create_engine(url: str, schema: str | None = None, pool_size: int = 5) -> AsyncEngine:
    """An engine for ``url``; ``schema`` sets PostgreSQL's search_path (one schema per test run)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # a connection per use: cheap for a file, and a moved or missing file shows at once
        engine = create_async_engine(url, poolclass=NullPool)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, object] = {"timeout": CONNECT_TIMEOUT_SEC}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(url, connect_args=connect_args, pool_size=pool_size,
                               pool_pre_ping=True)


def engine_from_settings(store: StoreSettings, pool_size: int = 5) -> AsyncEngine:
    return create_engine(store.database_url, store.schema_name, pool_size)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    with _UPGRADE_LOCK:
        command.upgrade(config, "head")


async def migrate(engine: AsyncEngine, schema: str | None = None) -> None:
    """Create the schema (PostgreSQL) and run every migration not yet applied."""
    async with engine.begin() as connection:
        if schema and connection.dialect.name == "postgresql":
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await connection.run_sync(_upgrade)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
