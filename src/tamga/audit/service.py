"""Appending to the audit chain at commit, and verifying it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import repository
from tamga.audit.domain import GENESIS_HASH, Entry, Finding, canonical, record_hash, verify_chain
from tamga.kit.clock import utcnow
from tamga.kit.db import on_commit
from tamga.models import AuditHead, AuditRecord


@dataclass(slots=True)
class _Pending:
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass
class VerifyReport:
    """What `tamga audit verify` found."""

    records: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Queue a state change for the audit chain; it is appended in the same commit as the change."""
    pending: list[_Pending] = session.info.setdefault("audit_pending", [])
    pending.append(_Pending(actor, action, entity_type, str(entity_id), canonical(before), canonical(after)))
    on_commit(session, "audit", _append_pending)


async def _append_pending(session: AsyncSession) -> None:
    pending: list[_Pending] = session.info.pop("audit_pending", [])
    if not pending:
        return
    head = await repository.lock_head(session)
    if head is None:
        head = AuditHead(id=repository.HEAD_ID, seq=0, hash=GENESIS_HASH)
        session.add(head)
    seq, prev = head.seq, head.hash
    now = utcnow()
    for p in pending:
        seq += 1
        entry = Entry(seq, now, p.actor, p.action, p.entity_type, p.entity_id, p.before, p.after)
        digest = record_hash(entry, prev)
        session.add(
            AuditRecord(
                seq=seq,
                at=now,
                actor=p.actor,
                action=p.action,
                entity_type=p.entity_type,
                entity_id=p.entity_id,
                before=p.before,
                after=p.after,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    head.seq, head.hash = seq, prev
    await session.flush()


async def verify(session: AsyncSession) -> VerifyReport:
    """Give the result of checking the whole chain against its hashes and its head."""
    rows: list[tuple[Entry, str, str]] = []
    async for r in repository.stream_records(session):
        entry = Entry(r.seq, r.at, r.actor, r.action, r.entity_type, r.entity_id, r.before, r.after)
        rows.append((entry, r.prev_hash, r.hash))
    h = await repository.head(session)
    count, findings = verify_chain(rows, (h.seq, h.hash) if h else None)
    return VerifyReport(count, findings)
