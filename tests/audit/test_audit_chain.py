"""The hash-chained audit record: the pure chain check, and tampering found in a real database, by the
service and by `tamga audit verify`, on every configured database."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, text, update
from tests.conftest import Backend
from tests.support.builders import admin, ok, operator, tag

from tamga.audit import repository as audit_repo
from tamga.audit import service as audit
from tamga.audit.domain import GENESIS_HASH, Entry, Finding, chain_of, record_hash, verify_chain
from tamga.kit.db import Database, commit
from tamga.models import AuditHead, AuditRecord

Row = tuple[Entry, str, str]
CONTENT = "record content does not match its hash"
LINK = "link to the previous record is broken"
T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


# --- the chain, without a database ----------------------------------------------------------------


def build(n: int) -> tuple[list[Row], tuple[int, str]]:
    """Give n chained rows and the head that names the last."""
    rows: list[Row] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        entry = Entry(
            seq=seq,
            at=T0 + timedelta(seconds=seq),
            actor=f"user:{seq % 3 + 1}",
            action="movement.accept",
            entity_type="movement",
            entity_id=str(100 + seq),
            before={"status": "lodged"},
            after={"status": "accepted", "amount": "1250.00", "n": seq},
        )
        digest = record_hash(entry, prev)
        rows.append((entry, prev, digest))
        prev = digest
    return rows, (n, prev)


def problems(findings: list[Finding]) -> set[tuple[int, str]]:
    return {(f.seq, f.problem) for f in findings}


def test_an_intact_chain_has_no_findings() -> None:
    rows, head = build(6)
    assert verify_chain(rows, head) == (6, [])
    assert verify_chain([], None) == (0, [])


def test_the_hash_covers_every_field_and_the_link() -> None:
    (entry, prev, digest), *_ = build(1)[0]
    assert record_hash(entry, prev) == digest
    changes: list[dict[str, Any]] = [
        {"seq": 2},
        {"at": entry.at + timedelta(microseconds=1)},
        {"actor": "mallory"},
        {"action": "movement.release"},
        {"entity_type": "guarantee"},
        {"entity_id": "102"},
        {"before": None},
        {"after": {**(entry.after or {}), "amount": "1.00"}},
    ]
    for change in changes:
        assert record_hash(dataclasses.replace(entry, **change), prev) != digest, change
    assert record_hash(entry, "1" * 64) != digest


@pytest.mark.parametrize(
    "change",
    [
        {"actor": "mallory"},
        {"after": {"status": "accepted", "amount": "1.00", "n": 3}},
        {"at": T0},
        {"before": None},
    ],
)
def test_a_modified_record_is_found(change: dict[str, Any]) -> None:
    rows, head = build(5)
    entry, prev, digest = rows[2]
    rows[2] = (dataclasses.replace(entry, **change), prev, digest)
    assert verify_chain(rows, head) == (5, [Finding(3, CONTENT)])


def test_a_modified_record_with_a_recomputed_hash_breaks_the_next_link() -> None:
    rows, head = build(5)
    entry, prev, _ = rows[2]
    forged = dataclasses.replace(entry, actor="mallory")
    rows[2] = (forged, prev, record_hash(forged, prev))
    assert problems(verify_chain(rows, head)[1]) == {(4, LINK)}


def test_a_deleted_record_in_the_middle_is_found() -> None:
    rows, head = build(6)
    del rows[2]
    count, findings = verify_chain(rows, head)
    assert count == 5
    assert problems(findings) == {(4, "sequence jumps from 2 to 4"), (4, LINK)}


def test_a_deleted_first_record_is_found() -> None:
    rows, head = build(4)
    del rows[0]
    assert problems(verify_chain(rows, head)[1]) == {(2, "sequence jumps from 0 to 2"), (2, LINK)}


def test_a_deleted_last_record_is_found_by_the_head() -> None:
    rows, head = build(6)
    del rows[-1]
    count, findings = verify_chain(rows, head)
    assert count == 5
    assert findings == [Finding(6, "chain head says record 6, the chain ends at 5")]
    rows.clear()  # every record gone: the head still says there were six
    assert verify_chain(rows, head)[1] == [Finding(6, "chain head says record 6, the chain ends at 0")]


def test_a_head_that_does_not_match_the_last_hash_is_found() -> None:
    rows, (seq, _) = build(3)
    assert verify_chain(rows, (seq, "f" * 64))[1] == [
        Finding(3, "chain head says record 3, the chain ends at 3")
    ]
    assert verify_chain(rows, None)[1] != []  # records without a head


def test_two_swapped_records_are_found() -> None:
    rows, head = build(6)
    rows[2], rows[3] = rows[3], rows[2]  # read back in the wrong order
    found = problems(verify_chain(rows, head)[1])
    assert {
        (4, "sequence jumps from 2 to 4"),
        (4, LINK),
        (3, "sequence jumps from 4 to 3"),
        (3, LINK),
    } <= found
    assert (5, LINK) in found


def test_two_records_with_swapped_sequence_numbers_are_found() -> None:
    rows, head = build(6)
    (e3, p3, h3), (e4, p4, h4) = rows[2], rows[3]
    # their seq values exchanged in place: read in seq order, each sits where the other was
    rows[2] = (dataclasses.replace(e4, seq=3), p4, h4)
    rows[3] = (dataclasses.replace(e3, seq=4), p3, h3)
    found = problems(verify_chain(rows, head)[1])
    assert {(3, CONTENT), (3, LINK), (4, CONTENT), (4, LINK), (5, LINK)} <= found


def test_an_inserted_record_is_found() -> None:
    rows, head = build(4)
    entry, _, digest = rows[1]
    extra = dataclasses.replace(entry, actor="mallory")
    rows.insert(2, (extra, digest, record_hash(extra, digest)))
    assert verify_chain(rows, head)[1] != []


# --- the chain in a database ----------------------------------------------------------------------


async def run_cli(url: str, *args: str) -> tuple[int, str]:
    """Run the real `tamga` command against a database; give its exit code and output."""
    exe = Path(sys.executable).with_name("tamga")
    env = {**os.environ, "TAMGA_DATABASE_URL": url, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = await asyncio.create_subprocess_exec(
        str(exe),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def verify(db: Database) -> audit.VerifyReport:
    async with db.session() as session:
        return await audit.verify(session)


async def test_tampering_with_a_stored_record_is_found(http: httpx.AsyncClient, backend: Backend) -> None:
    headers = await admin(http)
    op = await operator(http, "BY")
    name = f"auditor.{tag()}"
    body = {"username": name, "password": "password-for-tests", "role": "tax_officer", "country": "BY"}
    created = ok(await http.post("/api/v1/users", json=body, headers=headers), 201)

    async with backend.db.session() as session:
        (op_record,) = await audit_repo.for_entity(session, "operator", str(op))
        (user_record,) = await audit_repo.for_entity(session, "user", str(created["id"]))
    assert op_record.action == "operator.register" and op_record.actor.startswith("user:")
    assert user_record.action == "user.create" and user_record.after == {
        "username": name,
        "role": "tax_officer",
        "country": "BY",
        "office": None,
    }
    assert user_record.id > op_record.id and user_record.at >= op_record.at

    report = await verify(backend.db)
    assert report.ok and report.records >= 2, report.findings
    code, out = await run_cli(backend.url, "audit", "verify")
    assert code == 0 and "audit chain intact" in out, out

    row_id, chain, seq, actor = op_record.id, op_record.chain, op_record.seq, op_record.actor
    try:
        async with backend.db.session() as session:
            await session.execute(
                text("UPDATE audit_records SET actor = 'mallory' WHERE id = :id"), {"id": row_id}
            )
            await session.commit()
        report = await verify(backend.db)
        assert not report.ok and report.findings == [Finding(seq, CONTENT, chain)]
        code, out = await run_cli(backend.url, "audit", "verify")
        assert code == 1, out
        assert "BROKEN" in out and re.search(rf"(^|\W){chain}\W+{seq}\W+{CONTENT}", out, re.MULTILINE), out
    finally:
        async with backend.db.session() as session:
            await session.execute(
                text("UPDATE audit_records SET actor = :actor WHERE id = :id"), {"actor": actor, "id": row_id}
            )
            await session.commit()

    assert (await verify(backend.db)).ok
    code, out = await run_cli(backend.url, "audit", "verify")
    assert code == 0 and "audit chain intact" in out, out


async def test_tampering_with_a_stored_payload_is_found(http: httpx.AsyncClient, backend: Backend) -> None:
    op = await operator(http, "RU")
    async with backend.db.session() as session:
        (record,) = await audit_repo.for_entity(session, "operator", str(op))
    row_id, chain, seq, after = record.id, record.chain, record.seq, record.after
    assert after is not None and after["country"] == "RU"
    try:
        async with backend.db.session() as session:
            forged = {**after, "name": "OOO Someone Else"}
            await session.execute(update(AuditRecord).where(AuditRecord.id == row_id).values(after=forged))
            await session.commit()
        assert (await verify(backend.db)).findings == [Finding(seq, CONTENT, chain)]
    finally:
        async with backend.db.session() as session:
            await session.execute(update(AuditRecord).where(AuditRecord.id == row_id).values(after=after))
            await session.commit()
    assert (await verify(backend.db)).ok


async def append(db: Database, n: int) -> None:
    for i in range(n):
        async with db.session() as session:
            audit.record(
                session,
                actor="system:test",
                action="thing.happen",
                entity_type="thing",
                entity_id="ledger",  # one entity, so one chain
                before=None if i == 0 else {"i": i - 1},
                after={"i": i, "note": "Ünïcødé ✓"},
            )
            await commit(session)


async def test_deleted_and_truncated_records_are_found(fresh_db: tuple[str, Database]) -> None:
    url, db = fresh_db
    code, out = await run_cli(url, "audit", "verify")  # an empty chain is intact
    assert code == 0 and "0 records" in out, out
    await append(db, 6)
    report = await verify(db)
    assert report.ok and report.records == 6
    async with db.session() as session:
        head = await session.get(AuditHead, chain_of("thing", "ledger"))
        assert head is not None and head.seq == 6

    async with db.session() as session:  # a record in the middle goes
        await session.execute(delete(AuditRecord).where(AuditRecord.seq == 3))
        await session.commit()
    report = await verify(db)
    assert report.records == 5
    assert problems(report.findings) == {(4, "sequence jumps from 2 to 4"), (4, LINK)}
    code, out = await run_cli(url, "audit", "verify")
    assert code == 1 and "sequence jumps from 2 to 4" in out, out

    async with db.session() as session:  # and the last one too
        await session.execute(delete(AuditRecord).where(AuditRecord.seq == 6))
        await session.commit()
    report = await verify(db)
    chain = chain_of("thing", "ledger")
    assert Finding(6, "chain head says record 6, the chain ends at 5", chain) in report.findings

    async with db.session() as session:  # appending after tampering does not hide it
        await session.execute(delete(AuditRecord))
        await session.commit()
    await append(db, 1)
    async with db.session() as session:
        seqs = (await session.execute(select(AuditRecord.seq))).scalars().all()
    assert seqs == [7]
    report = await verify(db)
    assert not report.ok and (7, "sequence jumps from 0 to 7") in problems(report.findings)


async def test_a_missing_before_is_the_json_null_on_every_database(backend: Backend) -> None:
    """What the record holds is the same on both databases, however it was written (SQLAlchemy's JSON
    type on SQLite, the driver on PostgreSQL): a creation's missing `before` is the JSON null."""
    entity = f"json-null-{tag()}"
    async with backend.db.session() as session:
        audit.record(
            session,
            actor="test",
            action="thing.create",
            entity_type="thing",
            entity_id=entity,
            before=None,
            after={"n": 1},
        )
        await commit(session)
    async with backend.db.session() as session:
        query = text("SELECT before IS NULL, after IS NULL FROM audit_records WHERE entity_id = :e")
        assert (await session.execute(query, {"e": entity})).one() == (False, False)
        (record,) = await audit_repo.for_entity(session, "thing", entity)
        assert (record.before, record.after) == (None, {"n": 1})
        assert (await audit.verify(session)).ok


async def test_one_write_appends_many_records_across_chains_in_their_order(
    fresh_db: tuple[str, Database],
) -> None:
    """One commit recording changes to several entities, some sharing a chain and interleaved: each
    chain gets its records in the order they were recorded, numbered on from its head, linked and
    hashed as `verify` recomputes them, and its head names the last."""
    _, db = fresh_db
    await append(db, 2)  # the ledger's chain already has a head to go on from
    ledger = chain_of("thing", "ledger")
    others = [f"other-{i}" for i in range(40)]
    same = next(e for e in others if chain_of("thing", e) == ledger)
    elsewhere = [e for e in others if chain_of("thing", e) != ledger][:3]
    order = ["ledger", elsewhere[0], same, elsewhere[1], "ledger", elsewhere[0], elsewhere[2], same]
    async with db.session() as session:
        for i, entity in enumerate(order):
            audit.record(
                session,
                actor="system:test",
                action="thing.step",
                entity_type="thing",
                entity_id=entity,
                before={"i": i - 1} if i else None,
                after={"i": i, "note": "ё ✓"},
            )
        await commit(session)
    report = await verify(db)
    assert report.ok and report.records == 2 + len(order)
    async with db.session() as session:
        stored = (
            await session.execute(
                select(AuditRecord.chain, AuditRecord.seq, AuditRecord.entity_id, AuditRecord.after)
                .where(AuditRecord.action == "thing.step")
                .order_by(AuditRecord.chain, AuditRecord.seq)
            )
        ).all()
        heads = {h.id: h.seq for h in (await session.execute(select(AuditHead))).scalars()}
    for chain in {chain_of("thing", e) for e in order}:
        mine = [(seq, entity, after["i"]) for c, seq, entity, after in stored if c == chain]
        recorded = [(entity, i) for i, entity in enumerate(order) if chain_of("thing", entity) == chain]
        first = 3 if chain == ledger else 1
        assert mine == [(first + n, e, i) for n, (e, i) in enumerate(recorded)]
        assert heads[chain] == mine[-1][0]


async def test_concurrent_appenders_to_one_chain_queue_on_its_head(fresh_db: tuple[str, Database]) -> None:
    """Real concurrent transactions appending to the same chain: none forks it, none is lost."""
    _, db = fresh_db
    await asyncio.gather(*(append(db, 5) for _ in range(6)))
    await assert_whole(db, records=30, ledger_seq=30)


async def assert_whole(db: Database, *, records: int, ledger_seq: int) -> None:
    """Every chain verifies, with `records` records in all, and the ledger's head names its record
    `ledger_seq`."""
    report = await verify(db)
    assert report.ok and report.records == records, report.findings
    async with db.session() as session:
        head = await session.get(AuditHead, chain_of("thing", "ledger"))
        assert head is not None and head.seq == ledger_seq


async def test_a_chain_without_its_head_refuses_the_append_and_keeps_nothing(
    fresh_db: tuple[str, Database],
) -> None:
    _, db = fresh_db
    async with db.session() as session:
        await session.execute(delete(AuditHead).where(AuditHead.id == chain_of("thing", "ledger")))
        await session.commit()
    with pytest.raises(RuntimeError, match="has no head row"):
        await append(db, 1)
    async with db.session() as session:
        assert (await session.execute(select(AuditRecord))).first() is None
