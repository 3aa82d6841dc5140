"""The hash chain: how a record's hash is made and how a chain is checked. No I/O."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

GENESIS_HASH = "0" * 64
# The record is split into this many chains, by entity, so that writers touching different entities
# do not queue on one head row; an entity's whole history is in one chain, in order. Fixed for the
# life of a database (the migration creates one head per chain).
AUDIT_CHAINS = 16


def chain_of(entity_type: str, entity_id: str) -> int:
    """Give the chain an entity's records belong to."""
    return zlib.crc32(f"{entity_type}:{entity_id}".encode()) % AUDIT_CHAINS


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} in an audit record")


def canonical(value: Any) -> Any:
    """Give a JSON-ready copy of a value with Decimals and datetimes as strings."""
    return json.loads(json.dumps(value, default=_default))


@dataclass(frozen=True, slots=True)
class Entry:
    """The fields of an audit record that its hash covers."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    chain: int = 0


def hash_prefix(entry: Entry) -> bytes:
    """Give the start of the canonical JSON a record's hash covers: every field but the two that link it.

    The JSON has sorted keys and the links (`prev`, `seq`) sort last, so a record's hashed bytes are this
    prefix and then `link(prev_hash, seq)`: a writer can send the prefix and let the database finish the
    hash once it holds the chain's head (`audit.repository`).
    """
    payload = json.dumps(
        {
            "chain": entry.chain,
            "at": entry.at.isoformat(timespec="microseconds"),
            "actor": entry.actor,
            "action": entry.action,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "before": entry.before,
            "after": entry.after,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_default,
    )
    return payload[:-1].encode()  # without the closing brace: the links follow


def link(prev_hash: str, seq: int) -> bytes:
    """Give the end of a record's hashed JSON: its link to the previous record, its place in the chain."""
    return f',"prev":"{prev_hash}","seq":{seq}}}'.encode()


def record_hash(entry: Entry, prev_hash: str) -> str:
    """Give the SHA-256 over the entry's canonical JSON with its link to the previous hash."""
    return hashlib.sha256(hash_prefix(entry) + link(prev_hash, entry.seq)).hexdigest()


@dataclass(frozen=True, slots=True)
class Finding:
    """One break in a chain: where and what."""

    seq: int
    problem: str
    chain: int = 0


def verify_chain(
    rows: Iterable[tuple[Entry, str, str]], head: tuple[int, str] | None
) -> tuple[int, list[Finding]]:
    """Check (entry, prev_hash, hash) rows in seq order against each other and the head.

    Finds a modified record (its hash no longer matches), a deleted or inserted one (a gap in the
    sequence or a broken link), a reordering (links and hashes no longer agree) and a truncated
    tail (the head names a later record than the last one found).
    """
    findings: list[Finding] = []
    expected_seq = 1
    prev = GENESIS_HASH
    count = 0
    for entry, prev_hash, stored_hash in rows:
        count += 1
        if entry.seq != expected_seq:
            findings.append(Finding(entry.seq, f"sequence jumps from {expected_seq - 1} to {entry.seq}"))
        if prev_hash != prev:
            findings.append(Finding(entry.seq, "link to the previous record is broken"))
        if record_hash(entry, prev_hash) != stored_hash:
            findings.append(Finding(entry.seq, "record content does not match its hash"))
        prev = stored_hash
        expected_seq = entry.seq + 1
    head_seq, head_hash = head if head else (0, GENESIS_HASH)
    if head_seq != expected_seq - 1 or head_hash != prev:
        findings.append(
            Finding(head_seq, f"chain head says record {head_seq}, the chain ends at {expected_seq - 1}")
        )
    return count, findings
