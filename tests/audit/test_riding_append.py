"""The audit append that rides on a writer's own statement (PostgreSQL): the database finishes each hash
from the prefix the writer sends, so the records must be exactly what `tamga audit verify` recomputes,
under concurrent writers too; where it cannot ride (SQLite, several entries on one chain), the entries
wait for the commit as before."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.audit.test_audit_chain import append, assert_whole, verify

from tamga.audit import service as audit
from tamga.audit.domain import Entry, chain_of, hash_prefix, link, record_hash
from tamga.kit.db import Database, commit, driver
from tamga.models import AuditHead, AuditRecord

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(1, 2**62),
    at=st.datetimes(timezones=st.just(UTC)),
    actor=st.text(),
    action=st.text(),
    entity_id=st.text(),
    before=st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    after=st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    chain=st.integers(0, 15),
    prev=st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_a_hash_is_the_sha256_of_the_whole_canonical_record(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    entity_id: str,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    chain: int,
    prev: str,
) -> None:
    """The prefix and the link make the record's canonical JSON (sorted keys, the links last): what the
    database finishes from the prefix is the hash of the whole record, whatever its text."""
    entry = Entry(seq, at, actor, action, "movement", entity_id, before, after, chain)
    whole = {
        "chain": chain,
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "entity_type": "movement",
        "entity_id": entity_id,
        "before": before,
        "after": after,
        "prev": prev,
    }
    canonical = json.dumps(whole, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert hash_prefix(entry) + link(prev, seq) == canonical
    assert record_hash(entry, prev) == hashlib.sha256(canonical).hexdigest()


def record(session: AsyncSession, entity: str, i: int) -> None:
    audit.record(
        session,
        actor="system:test",
        action="thing.ride",
        entity_type="thing",
        entity_id=entity,
        before=None if i == 0 else {"i": i - 1},
        after={"i": i, "note": 'Ünïcødé ✓ "quoted" \\ back'},
    )


async def ride(db: Database, entities: list[str], i: int = 0) -> None:
    """One unit of work whose records ride on a statement of its own (a stand-in for a writer's)."""
    async with db.session() as session:
        for entity in entities:
            record(session, entity, i)
        rider = audit.rider(session)
        raw = await driver(session)
        assert rider is not None and raw is not None
        await raw.execute(f"WITH {rider.ctes(1, None)} SELECT 1", *rider.params)
        await commit(session)


def other_chains(n: int) -> list[str]:
    """Entities of `n` different chains, none the ledger's."""
    found: dict[int, str] = {}
    for i in range(1000):
        entity = f"other-{i}"
        found.setdefault(chain_of("thing", entity), entity)
    del found[chain_of("thing", "ledger")]
    return list(found.values())[:n]


async def test_riding_records_verify_and_move_their_heads(fresh_db: tuple[str, Database]) -> None:
    url, db = fresh_db
    if not url.startswith("postgresql"):
        pytest.skip("the append rides on statements on PostgreSQL only (see the SQLite test below)")
    await append(db, 2)  # records appended the usual way first: the riders go on from that head
    await ride(db, ["ledger", *other_chains(3)], 1)  # four chains in one statement
    await ride(db, ["ledger"], 2)
    await assert_whole(db, records=2 + 4 + 1, ledger_seq=4)
    async with db.session() as session:
        rows = (await session.execute(select(AuditRecord).where(AuditRecord.entity_id == "ledger"))).scalars()
        assert [(r.seq, r.after) for r in sorted(rows, key=lambda r: r.seq)][2:] == [
            (3, {"i": 1, "note": 'Ünïcødé ✓ "quoted" \\ back'}),
            (4, {"i": 2, "note": 'Ünïcødé ✓ "quoted" \\ back'}),
        ]


async def test_concurrent_riders_and_appenders_on_one_chain_neither_fork_nor_lose_it(
    fresh_db: tuple[str, Database],
) -> None:
    """Real concurrent transactions on the same chain, half riding and half appending at commit: each
    waits for the head, and the chain stays whole."""
    url, db = fresh_db
    if not url.startswith("postgresql"):
        pytest.skip("the append rides on statements on PostgreSQL only")

    async def riders(n: int) -> None:
        for i in range(n):
            await ride(db, ["ledger"], i)

    await asyncio.gather(*(riders(5) if k % 2 else append(db, 5) for k in range(8)))
    await assert_whole(db, records=40, ledger_seq=40)


async def test_a_riding_append_without_its_head_fails_the_statement_and_keeps_nothing(
    fresh_db: tuple[str, Database],
) -> None:
    url, db = fresh_db
    if not url.startswith("postgresql"):
        pytest.skip("the append rides on statements on PostgreSQL only")
    async with db.session() as session:
        await session.execute(delete(AuditHead).where(AuditHead.id == chain_of("thing", "ledger")))
        await session.commit()
    with pytest.raises(asyncpg.NotNullViolationError):
        await ride(db, ["ledger"])
    async with db.session() as session:
        assert (await session.execute(select(AuditRecord))).first() is None


async def test_where_it_cannot_ride_the_entries_wait_for_the_commit(fresh_db: tuple[str, Database]) -> None:
    """On SQLite, and for two entries of one chain on PostgreSQL, there is no rider: the queue is left
    as it was and the commit appends it."""
    url, db = fresh_db
    async with db.session() as session:
        record(session, "ledger", 0)
        record(session, "ledger", 1)  # the same chain twice: the second's link is the first's hash
        assert audit.rider(session) is None
        if url.startswith("sqlite"):
            record(session, other_chains(1)[0], 0)
            assert audit.rider(session) is None
        await commit(session)
    report = await verify(db)
    assert report.ok and report.records == (3 if url.startswith("sqlite") else 2), report.findings
