"""Appending to the audit chain at commit, and verifying it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import repository
from tamga.audit.domain import (
    AUDIT_CHAINS,
    Entry,
    Finding,
    canonical,
    chain_of,
    hash_prefix,
    record_hash,
    verify_chain,
)
from tamga.kit.clock import utcnow
from tamga.kit.db import on_commit
from tamga.kit.pg import Rider
from tamga.models import AuditRecord


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


async def append_now(session: AsyncSession) -> None:
    """Append the entries queued so far now instead of at commit (still in the caller's transaction).

    For a use case that must take a contended lock last, just before its commit (a release reserves
    on a shared guarantee): the chain heads are then taken before that lock, never while holding it,
    which keeps the lock order heads -> guarantee everywhere. Entries queued later are appended at commit.
    """
    await _append_pending(session)


def rider(session: AsyncSession) -> Rider | None:
    """Give the entries queued so far as an append that rides on the caller's next statement, or None.

    On PostgreSQL, when each queued entry is of a different chain (a use case records one change per
    entity, as the transit steps do): the entries are taken from the queue, and the writer that gets the
    rider puts it in its statement (`kit.pg.Rider`), so the heads' locked read and the append cost no
    round trip of their own; the database finishes each hash from the prefix given here. Otherwise (SQLite,
    several entries on one chain, nothing queued) None: the entries stay queued for the commit.
    """
    pending: list[_Pending] = session.info.get("audit_pending", [])
    if not pending or session.get_bind().dialect.name != "postgresql":
        return None
    now = utcnow()
    entries = [
        Entry(
            0,
            now,
            p.actor,
            p.action,
            p.entity_type,
            p.entity_id,
            p.before,
            p.after,
            chain_of(p.entity_type, p.entity_id),
        )
        for p in pending
    ]
    if len({e.chain for e in entries}) < len(entries):
        return None
    del session.info["audit_pending"]
    return repository.rider([(e, hash_prefix(e)) for e in entries])


async def _append_pending(session: AsyncSession) -> None:
    """Append the queued entries to their chains: one locked read of the heads, then one write."""
    pending: list[_Pending] = session.info.pop("audit_pending", [])
    if not pending:
        return
    by_chain: dict[int, list[_Pending]] = {}
    for p in pending:
        by_chain.setdefault(chain_of(p.entity_type, p.entity_id), []).append(p)
    heads = await repository.lock_heads(session, list(by_chain))
    now = utcnow()
    rows: list[dict[str, Any]] = []
    new_heads: dict[int, tuple[int, str]] = {}
    for chain, entries in by_chain.items():
        if chain not in heads:  # the migration creates every head; a missing one is a broken database
            raise RuntimeError(f"audit chain {chain} has no head row")
        new_heads[chain] = _chain_rows(chain, *heads[chain], entries, now, rows)
    await repository.append(session, rows, new_heads)


def _chain_rows(
    chain: int, seq: int, prev: str, entries: list[_Pending], now: datetime, rows: list[dict[str, Any]]
) -> tuple[int, str]:
    """Add the rows of entries chained after (seq, prev) to `rows`; give the chain's new head."""
    for p in entries:
        seq += 1
        entry = Entry(seq, now, p.actor, p.action, p.entity_type, p.entity_id, p.before, p.after, chain)
        digest = record_hash(entry, prev)
        rows.append(
            {
                "chain": chain,
                "seq": seq,
                "at": now,
                "actor": p.actor,
                "action": p.action,
                "entity_type": p.entity_type,
                "entity_id": p.entity_id,
                "before": p.before,
                "after": p.after,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return seq, prev


def entry_of(record: AuditRecord) -> Entry:
    """Give the fields of a stored record that its hash covers."""
    r = record
    return Entry(r.seq, r.at, r.actor, r.action, r.entity_type, r.entity_id, r.before, r.after, r.chain)


async def verify(session: AsyncSession) -> VerifyReport:
    """Give the result of checking every chain against its hashes and its head."""
    heads = await repository.heads(session)
    report = VerifyReport(0)
    for chain in sorted(set(range(AUDIT_CHAINS)) | set(heads) | set(await repository.chains_in_use(session))):
        rows: list[tuple[Entry, str, str]] = []
        async for r in repository.stream_records(session, chain):
            rows.append((entry_of(r), r.prev_hash, r.hash))
        h = heads.get(chain)
        if h is None or chain >= AUDIT_CHAINS:
            report.findings.append(Finding(0, "records of a chain that has no head", chain))
        count, findings = verify_chain(rows, (h.seq, h.hash) if h else None)
        report.records += count
        report.findings += [Finding(f.seq, f.problem, chain) for f in findings]
    return report
