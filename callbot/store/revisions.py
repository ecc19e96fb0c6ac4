"""Knowledge-base revisions: every save of the FAQ editor, whole files, who, when, diff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.store.schema import kb_revisions


@dataclass(frozen=True)
class Revision:
    id: int
    created_at: datetime
    author: str
    comment: str
    kb_text: str
    examples_text: str
    kb_revision: str
    topics: str
    diff: str
    topic_files: str = ""  # JSON of the topic files; empty in revisions made before them


def _revision(row: object) -> Revision:
    return Revision(**{k: v if v is not None else "" for k, v in row._mapping.items()})  # type: ignore[attr-defined]


async def head(engine: AsyncEngine) -> Revision | None:
    async with engine.connect() as connection:
        row = (await connection.execute(
            kb_revisions.select().order_by(kb_revisions.c.id.desc()).limit(1))).first()
    return _revision(row) if row else None


async def get(engine: AsyncEngine, revision_id: int) -> Revision | None:
    async with engine.connect() as connection:
        row = (await connection.execute(
            kb_revisions.select().where(kb_revisions.c.id == revision_id))).first()
    return _revision(row) if row else None


async def history(engine: AsyncEngine, limit: int = 100) -> list[dict]:
    """Newest first, without the file texts."""
    columns = [kb_revisions.c[name] for name in ("id", "created_at", "author", "comment",
                                                 "kb_revision", "topics")]
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(*columns).order_by(kb_revisions.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


async def add(engine: AsyncEngine, author: str, comment: str, kb_text: str, examples_text: str,
              kb_revision: str, topics: list[str], diff: str, topic_files: str = "") -> int:
    async with engine.begin() as connection:
        result = await connection.execute(insert(kb_revisions).values(
            created_at=datetime.now(), author=author, comment=comment[:300], kb_text=kb_text,
            examples_text=examples_text, kb_revision=kb_revision,
            topics=",".join(topics)[:500], diff=diff, topic_files=topic_files or None))
    return result.inserted_primary_key[0]
