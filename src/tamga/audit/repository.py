"""Queries on the audit chain."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit.domain import Entry
from tamga.kit.db import driver
from tamga.kit.pg import Rider, pg_table
from tamga.models import AuditHead, AuditRecord

_RECORDS = cast(Table, AuditRecord.__table__)
_HEADS = cast(Table, AuditHead.__table__)
_RECORD_COLUMNS = [c.name for c in _RECORDS.c if c.name != "id"]


# PostgreSQL, on the driver (`kit.db.driver`): the heads' locked read, and the append in one statement
# (the heads move from bound arrays, the records' INSERT rides as a data-modifying WITH).
_PG_LOCK_HEADS = "SELECT id, seq, hash FROM audit_head WHERE id = ANY($1::int4[]) ORDER BY id FOR UPDATE"
_PG_APPEND = (
    f"WITH appended AS ({pg_table(_RECORDS).insert_arrays(tuple(_RECORD_COLUMNS))}) "
    "UPDATE audit_head SET seq = moves.seq, hash = moves.hash "
    f"FROM unnest(${len(_RECORD_COLUMNS) + 1}::int4[], ${len(_RECORD_COLUMNS) + 2}::int8[], "
    f"${len(_RECORD_COLUMNS) + 3}::varchar[]) AS moves (id, seq, hash) WHERE audit_head.id = moves.id"
)

# The append riding on a writer's own statement (`Rider`): the heads of the entries' chains locked in chain
# order, the records inserted one per chain with their hashes finished by the database (SHA-256 over the
# prefix the writer sent and the link to the head it holds: `domain.hash_prefix`, `domain.link`), the heads
# moved. A chain without its head gives a record without a sequence number, which the table refuses.
_RIDER_COLUMNS = ("chain", "at", "actor", "action", "entity_type", "entity_id", "before", "after")


@cache
def _pg_rider_ctes(first: int, gate: str | None) -> str:
    casts = pg_table(_RECORDS).casts
    arrays = [f"${first + n}::{casts[c]}[]" for n, c in enumerate(_RIDER_COLUMNS)]
    arrays.append(f"${first + len(_RIDER_COLUMNS)}::BYTEA[]")
    names = ", ".join([*_RIDER_COLUMNS, "prefix"])
    entries = ", ".join(f"e.{c}" for c in _RIDER_COLUMNS)
    digest = (
        'encode(sha256(e.prefix || convert_to(\',"prev":"\' || h.hash || \'","seq":\' '
        "|| (h.seq + 1)::TEXT || '}', 'UTF8')), 'hex')"
    )
    gated = f" AND {gate}" if gate else ""
    return (
        f"audit_heads AS (SELECT id, seq, hash FROM audit_head WHERE id = ANY(${first}::INTEGER[]){gated} "
        "ORDER BY id FOR UPDATE), "
        f"audit_new AS (INSERT INTO audit_records ({', '.join(_RIDER_COLUMNS)}, seq, prev_hash, hash) "
        f"SELECT {entries}, h.seq + 1, h.hash, {digest} "
        f"FROM unnest({', '.join(arrays)}) AS e ({names}) LEFT JOIN audit_heads h ON h.id = e.chain "
        f"{f'WHERE {gate} ' if gate else ''}RETURNING chain, seq, hash), "
        "audit_moved AS (UPDATE audit_head SET seq = n.seq, hash = n.hash FROM audit_new n "
        "WHERE audit_head.id = n.chain)"
    )


def rider(entries: list[tuple[Entry, bytes]]) -> Rider:
    """Give the append of `entries` (one per chain, each with its `hash_prefix`) as WITHs that ride on a
    writer's statement on PostgreSQL, in that writer's transaction (`kit.pg.Rider`)."""
    rows = [
        (
            e.chain,
            e.at,
            e.actor,
            e.action,
            e.entity_type,
            e.entity_id,
            json.dumps(e.before),
            json.dumps(e.after),
            p,
        )
        for e, p in entries
    ]  # json.dumps: None as the JSON null, as `append` writes it
    columns = [list(column) for column in zip(*rows, strict=True)]
    return Rider(_pg_rider_ctes, columns, written="EXISTS (SELECT 1 FROM audit_new)")


async def lock_heads(session: AsyncSession, chains: list[int]) -> dict[int, tuple[int, str]]:
    """Give (seq, hash) of the given chains' heads, locked until commit, in chain order (no deadlock).

    SQLite's writer lock already serialises; on PostgreSQL only appenders to the same chain wait.
    """
    raw = await driver(session)
    if raw is not None:
        return {
            chain: (seq, digest) for chain, seq, digest in await raw.fetch(_PG_LOCK_HEADS, sorted(chains))
        }
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
    raw = await driver(session)
    if raw is not None:
        columns = [[row[name] for row in rows] for name in _RECORD_COLUMNS]  # the order of _PG_APPEND
        for json_column in (_RECORD_COLUMNS.index("before"), _RECORD_COLUMNS.index("after")):
            # json.dumps: None as the JSON null, as SQLAlchemy's JSON type has always written it here
            columns[json_column] = [json.dumps(v) for v in columns[json_column]]
        chains = sorted(heads)
        moves = [chains, [heads[c][0] for c in chains], [heads[c][1] for c in chains]]
        await raw.execute(_PG_APPEND, *columns, *moves)
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
