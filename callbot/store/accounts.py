"""Accounts, login sessions and the audit log.

Roles nest: ``ops`` reads the dashboard, ``editor`` also edits the FAQ, ``admin`` also
manages users. ``campaigns`` (a CCAS agent, issue 16) stands beside that ladder rather than on
it: what ``ops`` may do, plus the outbound campaigns (import a list, start and pause, see the
people's names, export the results), and not the FAQ — putting it on the ladder would have
given it to every editor, or the FAQ to every CCAS agent. ``admin`` may do it all.
Passwords are argon2 hashes, checked in a thread (argon2 is slow on purpose). Session cookies
are random tokens; only their SHA-256 is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.store.schema import audit_log, users, web_sessions

LADDER: tuple[str, ...] = ("ops", "editor", "admin")  # each role can do what the previous can
ROLES: tuple[str, ...] = (*LADDER, "campaigns")  # every role an account may have
#: Role → the roles' rights it has (``User.can``): the ladder, and ``campaigns`` beside it.
GRANTS: dict[str, frozenset[str]] = {
    **{role: frozenset(LADDER[:n + 1]) for n, role in enumerate(LADDER)},
    "campaigns": frozenset({"ops", "campaigns"}),
}
GRANTS["admin"] = GRANTS["admin"] | {"campaigns"}
MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("timing-equaliser")  # unknown users cost as much as wrong passwords


class AccountError(ValueError):
    """A refused account operation, with a message fit for the user."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    active: bool = True
    password_expired: bool = False  # the next page is "choose your password"

    def can(self, role: str) -> bool:
        return role in GRANTS.get(self.role, ())


@dataclass(frozen=True)
class WebSession:
    user: User
    csrf_token: str


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def add_user(engine: AsyncEngine, username: str, password: str, role: str,
                   expired: bool = False) -> User:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not username.strip() or len(username) > 64:
        raise AccountError("the user name must be 1 to 64 characters")
    _check_password(password)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(insert(users).values(
                username=username, password_hash=hashed, role=role, active=True,
                created_at=datetime.now(), password_expired=expired))
    except IntegrityError as exc:
        raise AccountError(f"user {username!r} already exists") from exc
    return User(result.inserted_primary_key[0], username, role, password_expired=expired)


#: The account ``create_first_admin`` opens on a store without any.
FIRST_ADMIN = "admin"


async def create_first_admin(engine: AsyncEngine) -> str | None:
    """On a store without accounts, an ``admin`` with a random one-time password, returned
    to be printed once; ``None`` when accounts exist (nothing is created or shown)."""
    async with engine.connect() as connection:
        if (await connection.execute(select(users.c.id).limit(1))).first() is not None:
            return None
    password = secrets.token_urlsafe(12)
    try:
        await add_user(engine, FIRST_ADMIN, password, "admin", expired=True)
    except AccountError:  # another process created it at the same moment
        return None
    await audit(engine, "serve", "user.add", FIRST_ADMIN, "first run: one-time password")
    return password


async def set_password(engine: AsyncEngine, username: str, password: str) -> None:
    _check_password(password)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    async with engine.begin() as connection:
        done = await connection.execute(
            update(users).where(users.c.username == username).values(
                password_hash=hashed, password_expired=False))
        if not done.rowcount:
            raise AccountError(f"no user {username!r}")
        await _end_sessions(connection, username)


async def set_active(engine: AsyncEngine, username: str, active: bool) -> None:
    """Disable (and log out) or re-enable an account; accounts are never reused."""
    async with engine.begin() as connection:
        done = await connection.execute(
            update(users).where(users.c.username == username).values(active=active))
        if not done.rowcount:
            raise AccountError(f"no user {username!r}")
        if not active:
            await _end_sessions(connection, username)


async def _end_sessions(connection: object, username: str) -> None:
    ids = select(users.c.id).where(users.c.username == username).scalar_subquery()
    await connection.execute(delete(web_sessions).where(web_sessions.c.user_id == ids))  # type: ignore[attr-defined]


async def list_users(engine: AsyncEngine) -> list[User]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(users).order_by(users.c.username))
        return [User(r.id, r.username, r.role, r.active, r.password_expired) for r in rows]


async def authenticate(engine: AsyncEngine, username: str, password: str) -> User | None:
    """The active user with this password, else ``None`` (same cost either way)."""
    async with engine.connect() as connection:
        row = (await connection.execute(select(users).where(users.c.username == username))).first()
    stored = row.password_hash if row else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row.active:
        return None
    async with engine.begin() as connection:
        await connection.execute(update(users).where(users.c.id == row.id).values(
            last_login=datetime.now()))
    return User(row.id, row.username, row.role, row.active, row.password_expired)


async def open_session(engine: AsyncEngine, user: User, hours: float) -> tuple[str, str]:
    """A new session: returns (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with engine.begin() as connection:
        await connection.execute(insert(web_sessions).values(
            token_hash=_token_hash(token), user_id=user.id, csrf_token=csrf,
            expires_at=datetime.now() + timedelta(hours=hours)))
    return token, csrf


async def find_session(engine: AsyncEngine, token: str) -> WebSession | None:
    query = (select(users.c.id, users.c.username, users.c.role, users.c.active,
                    users.c.password_expired, web_sessions.c.csrf_token)
             .join(users, users.c.id == web_sessions.c.user_id)
             .where(web_sessions.c.token_hash == _token_hash(token),
                    web_sessions.c.expires_at > datetime.now(), users.c.active.is_(True)))
    async with engine.connect() as connection:
        row = (await connection.execute(query)).first()
    if row is None:
        return None
    return WebSession(User(row.id, row.username, row.role, row.active, row.password_expired),
                      row.csrf_token)


async def close_session(engine: AsyncEngine, token: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            delete(web_sessions).where(web_sessions.c.token_hash == _token_hash(token)))


async def audit(engine: AsyncEngine, username: str, action: str, target: str = "",
                detail: str = "") -> None:
    """Record who did what to what; every editor and admin action comes through here."""
    async with engine.begin() as connection:
        await connection.execute(insert(audit_log).values(
            at=datetime.now(), username=username, action=action, target=target[:200],
            detail=detail))


async def recent_audit(engine: AsyncEngine, limit: int = 200) -> list[dict]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]
