"""Queries for users, API keys and the login throttle."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.kit.upsert import insert_for
from tamga.models import ApiKey, LoginThrottle, User


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def api_key_by_prefix(session: AsyncSession, prefix: str, *, lock: bool = False) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.prefix == prefix)
    return (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()


async def user_for_update(session: AsyncSession, user_id: int) -> User | None:
    """Give a user with its row locked until commit."""
    return await session.get(User, user_id, with_for_update=True, populate_existing=True)


async def throttle(session: AsyncSession, username: str) -> LoginThrottle | None:
    return await session.get(LoginThrottle, username, populate_existing=True)


async def count_failure(session: AsyncSession, username: str, at: dt.datetime) -> int:
    """Add one failed attempt for a username and give the new count (atomic upsert)."""
    stmt = insert_for(session, LoginThrottle).values(username=username, failures=1, last_failure_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[LoginThrottle.username],
        set_={"failures": LoginThrottle.failures + 1, "last_failure_at": at},
    ).returning(LoginThrottle.failures)
    return int((await session.execute(stmt)).scalar_one())


async def lock_out(session: AsyncSession, username: str, until: dt.datetime) -> None:
    row = await session.get(LoginThrottle, username)
    if row is not None:
        row.locked_until = until
        row.failures = 0


async def clear_throttle(session: AsyncSession, username: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))
