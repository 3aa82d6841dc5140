"""Queries on the audit chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.kit.db import unnest_insert, unnest_params
from tamga.models import AuditHead, AuditRecord

_RECORDS = cast(Table, AuditRecord.__table__)
_HEADS = cast(Table, AuditHead.__table__)
_RECORD_COLUMNS = [c.name for c in _RECORDS.c if c.name != "id"]
_HEAD_COLUMNS = [c.name for c in _HEADS.c]


def _append_statement() -> Any:
    """PostgreSQL: move every head to its new (seq, hash) from bound arrays, the records' INSERT riding
    as a WITH: one statement, compiled once whatever the number of records and chains."""
    moves = select(
        *[
            func.unnest(bindparam(f"head_{name}", type_=ARRAY(_HEADS.c[name].type))).label(name)
            for name in _HEAD_COLUMNS
        ]
    ).subquery("moves")
    return (
        update(_HEADS)
        .where(_HEADS.c.id == moves.c.id)
        .values(seq=moves.c.seq, hash=moves.c.hash)
        .add_cte(unnest_insert(_RECORDS, _RECORD_COLUMNS, "rec").cte("appended"))
    )


_APPEND = _append_statement()


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
    """Insert chained records and move their chains' heads (Core statements: no ORM bookkeeping).

    On PostgreSQL one statement (the heads' UPDATE from bound arrays, the records' INSERT as a
    data-modifying WITH): an append is one round trip after the locked read of the heads. On SQLite
    an INSERT of the rows and one UPDATE of every head (a CASE on the chain).
    """
    if session.get_bind().dialect.name == "postgresql":
        moves = [{"id": c, "seq": seq, "hash": digest} for c, (seq, digest) in sorted(heads.items())]
        params = unnest_params(rows, _RECORD_COLUMNS, "rec") | unnest_params(moves, _HEAD_COLUMNS, "head")
        await session.execute(_APPEND, params)
        return
    h = _HEADS.c
    chains = sorted(heads)
    move = (
        update(_HEADS)
        .where(h.id.in_(chains))
        .values(
            seq=case({c: heads[c][0] for c in chains}, value=h.id),
            hash=case({c: heads[c][1] for c in chains}, value=h.id),
        )
    )
    await session.execute(insert(_RECORDS), rows)
    await session.execute(move)


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
