"""Queries on the audit chain."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.models import AuditHead, AuditRecord

HEAD_ID = 1


async def lock_head(session: AsyncSession) -> AuditHead | None:
    """Give the chain head, locked until commit (SQLite's writer lock already serialises)."""
    stmt = select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def head(session: AsyncSession) -> AuditHead | None:
    return await session.get(AuditHead, HEAD_ID)


async def stream_records(session: AsyncSession, batch: int = 5000) -> AsyncIterator[AuditRecord]:
    """Give every record in sequence order, in batches."""
    last = 0
    while True:
        stmt = select(AuditRecord).where(AuditRecord.seq > last).order_by(AuditRecord.seq).limit(batch)
        rows = (await session.execute(stmt)).scalars().all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].seq


async def for_entity(session: AsyncSession, entity_type: str, entity_id: str) -> list[AuditRecord]:
    stmt = (
        select(AuditRecord)
        .where(AuditRecord.entity_type == entity_type, AuditRecord.entity_id == entity_id)
        .order_by(AuditRecord.seq)
    )
    return list((await session.execute(stmt)).scalars().all())
