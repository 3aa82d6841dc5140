"""Queries on the audit chain."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit.domain import LINK_CLOSE, LINK_OPEN, LINK_SEQ, Entry, link_hash
from tamga.kit.db import driver
from tamga.kit.pg import pg_table
from tamga.models import AuditHead, AuditRecord

_RECORDS = cast(Table, AuditRecord.__table__)
_HEADS = cast(Table, AuditHead.__table__)


class NewRecord(NamedTuple):
    """A record to append: its entry (`seq` not yet known) and the entry's `hash_prefix`."""

    entry: Entry
    prefix: bytes


# PostgreSQL, on the driver (`kit.db.driver`): the whole append in one statement. The given records
# are numbered within their chains (k), the heads locked in chain order (no deadlock; a waiter reads
# the head as its holder left it), and the links computed recursively, each record's hash from its
# prefix, the previous hash and its number (`domain.link_hash`, in SQL); then the records' INSERT and
# the heads' UPDATE to each chain's last record.
_R = pg_table(_RECORDS).casts
_PG_LINK = (
    f"encode(sha256(g.prefix || convert_to('{LINK_OPEN}' || c.hash || '{LINK_SEQ}' || (c.seq + 1) "
    f"|| '{LINK_CLOSE}', 'UTF8')), 'hex')::VARCHAR"
)
_PG_APPEND = f"""WITH RECURSIVE given AS (
  SELECT g.*, row_number() OVER (PARTITION BY g.chain ORDER BY g.ord) AS k
  FROM unnest($1::{_R["chain"]}[], $2::BYTEA[], $4::{_R["actor"]}[], $5::{_R["action"]}[],
              $6::{_R["entity_type"]}[], $7::{_R["entity_id"]}[], $8::{_R["before"]}[], $9::{_R["after"]}[])
       WITH ORDINALITY AS g (chain, prefix, actor, action, entity_type, entity_id, before, after, ord)
), heads AS (
  SELECT id, seq, hash::VARCHAR FROM audit_head WHERE id = ANY($1::{_R["chain"]}[]) ORDER BY id FOR UPDATE
), chained (chain, k, seq, prev_hash, hash) AS (
  SELECT id, 0::BIGINT, seq, hash, hash FROM heads
  UNION ALL
  SELECT c.chain, c.k + 1, c.seq + 1, c.hash, {_PG_LINK}
  FROM chained c JOIN given g ON g.chain = c.chain AND g.k = c.k + 1
), appended AS (
  INSERT INTO audit_records (chain, seq, at, actor, action, entity_type, entity_id, before, after,
                             prev_hash, hash)
  SELECT c.chain, c.seq, $3::{_R["at"]}, g.actor, g.action, g.entity_type, g.entity_id, g.before, g.after,
         c.prev_hash, c.hash
  FROM chained c JOIN given g ON g.chain = c.chain AND g.k = c.k
)
UPDATE audit_head SET seq = last.seq, hash = last.hash
FROM (SELECT DISTINCT ON (chain) chain, seq, hash FROM chained ORDER BY chain, k DESC) AS last
WHERE audit_head.id = last.chain
RETURNING audit_head.id"""


async def append(session: AsyncSession, records: Sequence[NewRecord]) -> None:
    """Append records to their chains, in the given order within each chain, in the caller's
    transaction; the chains' heads are locked until its commit (only appenders to the same chain wait).

    PostgreSQL: one statement, one round trip, the hashes finished by the database. SQLite (whose
    writer lock already serialises): the heads read, the hashes finished here, the records inserted,
    the heads moved. Raises RuntimeError, the caller's transaction then rolled back, for a chain with
    no head row (the migration creates every head: a missing one is a broken database).
    """
    if not records:
        return
    chains = sorted({r.entry.chain for r in records})
    raw = await driver(session)
    if raw is not None:
        entries = [r.entry for r in records]
        moved = await raw.fetch(
            _PG_APPEND,
            [e.chain for e in entries],
            [r.prefix for r in records],
            entries[0].at,
            [e.actor for e in entries],
            [e.action for e in entries],
            [e.entity_type for e in entries],
            [e.entity_id for e in entries],
            [json.dumps(e.before) for e in entries],  # JSON null for None, as SQLAlchemy's JSON type writes
            [json.dumps(e.after) for e in entries],
        )
        _check_heads(chains, {row[0] for row in moved})
        return
    h = _HEADS.c
    found = select(h.id, h.seq, h.hash).where(h.id.in_(chains)).order_by(h.id).with_for_update()
    heads = {chain: (seq, digest) for chain, seq, digest in (await session.execute(found)).all()}
    _check_heads(chains, set(heads))
    rows: list[dict[str, Any]] = []
    for r in records:
        e = r.entry
        seq, prev = heads[e.chain]
        digest = link_hash(r.prefix, prev, seq + 1)
        heads[e.chain] = (seq + 1, digest)
        rows.append({**_record_row(e), "seq": seq + 1, "prev_hash": prev, "hash": digest})
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


def _record_row(e: Entry) -> dict[str, Any]:
    return {
        "chain": e.chain,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "entity_type": e.entity_type,
        "entity_id": e.entity_id,
        "before": e.before,
        "after": e.after,
    }


def _check_heads(chains: list[int], found: set[int]) -> None:
    missing = sorted(set(chains) - found)
    if missing:
        raise RuntimeError(f"audit chain {missing[0]} has no head row")


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
