"""Queries on the audit chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.models import AuditHead, AuditRecord

_RECORDS = cast(Table, AuditRecord.__table__)
_HEADS = cast(Table, AuditHead.__table__)


async def lock_heads(session: AsyncSession, chains: list[int]) -> dict[int, tuple[int, str]]:
    """Give (seq, hash) of the given chains' heads, locked until commit, in chain order (no deadlock).

    SQLite's writer lock already serialises; on PostgreSQL only appenders to the same chain wait.
    """
    h = AuditHead.__table__.c
    stmt = select(h.id, h.seq, h.hash).where(h.id.in_(sorted(chains))).order_by(h.id).with_for_update()
    return {chain: (seq, digest) for chain, seq, digest in (await session.execute(stmt)).all()}


async def append(
    session: AsyncSession, rows: list[dict[str, Any]], heads: dict[int, tuple[int, str]]
) -> None:
    """Insert chained records and move their chains' heads (Core statements: no ORM bookkeeping)."""
    await session.execute(insert(_RECORDS), rows)
    h = AuditHead.__table__.c
    for chain, (seq, digest) in heads.items():
        await session.execute(update(_HEADS).where(h.id == chain).values(seq=seq, hash=digest))


async def heads(session: AsyncSession) -> dict[int, AuditHead]:
    return {h.id: h for h in (await session.execute(select(AuditHead))).scalars().all()}


async def chains_in_use(session: AsyncSession) -> list[int]:
    stmt = select(AuditRecord.chain).distinct().order_by(AuditRecord.chain)
    return list((await session.execute(stmt)).scalars().all())


async def stream_records(session: AsyncSession, chain: int, batch: int = 5000) -> AsyncIterator[AuditRecord]:
    """Give every record of a chain in sequence order, in batches."""
    last = 0
    while True:
        stmt = (
            select(AuditRecord)
            .where(AuditRecord.chain == chain, AuditRecord.seq > last)
            .order_by(AuditRecord.seq)
            .limit(batch)
        )
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
        .order_by(AuditRecord.id)
    )
    return list((await session.execute(stmt)).scalars().all())
