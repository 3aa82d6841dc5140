"""The exchange of registers between the two tax authorities' nodes: receiving (verify everything, then
apply each message once) and sending (group the outbox into registers, POST, retry until acknowledged).

See `tamga.taxation.signing` for what each signature covers and why it is done at the application level.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import service as audit
from tamga.config import Settings
from tamga.kit.clock import utcnow
from tamga.kit.db import Database, commit
from tamga.kit.errors import FieldError, TamgaError, ValidationFailed
from tamga.kit.http import field_path
from tamga.models.taxation import TaxInboxMessage, TaxRegister
from tamga.taxation import repository, schemas, service
from tamga.taxation.outbox import NodeIdentity, node_identity
from tamga.taxation.signing import (
    DIGEST_HEADER,
    NODE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ack_bytes,
    body_digest,
    message_bytes,
    request_bytes,
    sign,
    verify,
)

log = logging.getLogger(__name__)

REGISTERS_PATH = "/api/v1/tax/exchange/registers"


class ExchangeRefused(TamgaError):
    """A request from a node that could not be authenticated (unknown node, stale, bad signature)."""

    status = 401
    title = "Exchange request not authenticated"
    type_slug = "tax-exchange-authentication"


def retry_delay(attempts: int, base_s: float, cap_s: float) -> float:
    """Give the wait before the next attempt after `attempts` failures: doubling from base, at most cap."""
    return float(min(cap_s, base_s * 2 ** max(0, attempts - 1)))


# --- receiving ------------------------------------------------------------------------------------


class _PartyPayload(BaseModel):
    country: str
    tax_id: str
    name: str


class _DocPayload(BaseModel):
    number: str
    date: str


class _MessagePayload(BaseModel):
    """The shape every received message's payload must have before anything is applied."""

    application_number: str
    version: int
    state: str
    importer: _PartyPayload
    seller: _PartyPayload
    invoices: list[_DocPayload]
    amounts: dict[str, str]


def authenticate_request(
    me: NodeIdentity, settings: Settings, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> None:
    """Refuse (401) a request not signed by the known peer over this method, path, time and body."""
    node = headers.get(NODE_HEADER.lower(), "")
    if node != me.peer or me.peer_public_key is None:
        raise ExchangeRefused(f"unknown node {node!r}: this node exchanges with {me.peer} only")
    stamp = headers.get(TIMESTAMP_HEADER.lower(), "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > settings.tax_request_max_skew_s:
        raise ExchangeRefused(
            f"timestamp missing or more than {settings.tax_request_max_skew_s:.0f} s from this node's clock"
        )
    if headers.get(DIGEST_HEADER.lower(), "") != body_digest(body):
        raise ExchangeRefused("the Content-Digest does not match the body")
    signature = headers.get(SIGNATURE_HEADER.lower(), "")
    if not verify(me.peer_public_key, request_bytes(method, path, stamp, node, body), signature):
        raise ExchangeRefused("the request signature does not verify with the peer's key")


def _parse_register(me: NodeIdentity, body: bytes) -> schemas.Register:
    try:
        register = schemas.Register.model_validate_json(body)
    except ValidationError as exc:
        faults = [FieldError(field_path(("body", *e["loc"])), e["msg"]) for e in exc.errors()]
        raise ValidationFailed(faults or [FieldError("body", "not a register")]) from exc
    errors: list[FieldError] = []
    if register.sender != me.peer:
        errors.append(FieldError("body.sender", f"this node exchanges with {me.peer} only"))
    if register.recipient != me.node:
        errors.append(FieldError("body.recipient", f"this node is {me.node}"))
    assert me.peer_public_key is not None
    for i, m in enumerate(register.messages):
        if not verify(
            me.peer_public_key, message_bytes(register.sender, m.message_id, m.kind, m.payload), m.signature
        ):
            errors.append(
                FieldError(f"body.messages[{i}].signature", "does not verify with the sender's key")
            )
            continue
        try:
            parsed = _MessagePayload.model_validate(m.payload)
        except ValidationError as exc:
            errors.extend(
                FieldError(field_path(("body", "messages", i, "payload", *e["loc"])), e["msg"])
                for e in exc.errors()
            )
            continue
        if parsed.state != register.sender or parsed.importer.country != register.sender:
            errors.append(
                FieldError(f"body.messages[{i}].payload.state", "not an application of the sender's state")
            )
    ids = [m.message_id for m in register.messages]
    if len(set(ids)) != len(ids):
        errors.append(FieldError("body.messages", "a message id is repeated"))
    if errors:
        raise ValidationFailed(errors)
    return register


@dataclass(slots=True)
class Receipt:
    """What the receiver answers: the acknowledgement body and the headers that sign it."""

    body: bytes
    headers: dict[str, str]


async def receive_register(
    session: AsyncSession, settings: Settings, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> Receipt:
    """Authenticate a register, verify every message, then apply each new message once; give the signed ack.

    Nothing is written unless the request and every message in it verify.
    """
    me = node_identity(settings)
    authenticate_request(me, settings, method, path, headers, body)
    register = _parse_register(me, body)
    actor = f"node:{register.sender}"
    already = await repository.received_message_ids(
        session, register.sender, [m.message_id for m in register.messages]
    )
    applied: list[str] = []
    changed: list[str] = []
    now = utcnow()
    for m in register.messages:
        if m.message_id in already:
            continue
        session.add(
            TaxInboxMessage(
                sender=register.sender,
                message_id=m.message_id,
                register_id=register.register_id,
                kind=m.kind,
                application_number=str(m.payload["application_number"]),
                version=int(m.payload["version"]),
                signature=m.signature,
                received_at=now,
            )
        )
        changed += await service.apply_message(session, register.sender, m.kind, m.payload, actor)
        applied.append(m.message_id)
    if await repository.register(session, "in", register.register_id) is None:
        session.add(
            TaxRegister(
                register_id=register.register_id,
                direction="in",
                peer=register.sender,
                message_count=len(register.messages),
                created_at=now,
                attempts=0,
                acknowledged_at=now,
            )
        )
    if applied:
        audit.record(
            session,
            actor=actor,
            action="tax_register.receive",
            entity_type="tax_register",
            entity_id=register.register_id,
            before=None,
            after={"applied": applied, "claims_changed": changed},
        )
    ack = schemas.Acknowledgement(
        register_id=register.register_id,
        receiver=me.node,
        applied=applied,
        already_applied=sorted(already),
    )
    ack_body = ack.model_dump_json().encode()
    stamp = str(int(time.time()))
    return Receipt(
        ack_body,
        {
            NODE_HEADER: me.node,
            TIMESTAMP_HEADER: stamp,
            DIGEST_HEADER: body_digest(ack_body),
            SIGNATURE_HEADER: sign(me.private_key, ack_bytes(200, stamp, me.node, ack_body)),
        },
    )


# --- sending --------------------------------------------------------------------------------------


@dataclass(slots=True)
class SendReport:
    registers_sent: int = 0
    messages_acknowledged: int = 0
    failures: list[str] = field(default_factory=list)


async def seal_registers(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Put outbox messages not yet in a register into new registers (due now); give how many were made."""
    me = node_identity(settings)
    made = 0
    while True:
        messages = await repository.unregistered_outbox(session, settings.tax_register_max_messages)
        if not messages:
            return made
        register_id = str(uuid.uuid4())
        for m in messages:
            m.register_id = register_id
        session.add(
            TaxRegister(
                register_id=register_id,
                direction="out",
                peer=me.peer,
                message_count=len(messages),
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
        )
        await session.flush()
        made += 1


def _verify_ack(me: NodeIdentity, response: httpx.Response, register_id: str) -> str | None:
    """Give why an acknowledgement is not a valid one from the peer for this register (None: it is)."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    h = response.headers
    if h.get(NODE_HEADER) != me.peer or me.peer_public_key is None:
        return "the acknowledgement is not from the peer node"
    stamp = h.get(TIMESTAMP_HEADER, "")
    if not verify(
        me.peer_public_key, ack_bytes(200, stamp, me.peer, response.content), h.get(SIGNATURE_HEADER, "")
    ):
        return "the acknowledgement's signature does not verify"
    try:
        ack = json.loads(response.content)
    except ValueError:
        return "the acknowledgement is not JSON"
    if not isinstance(ack, dict) or ack.get("register_id") != register_id:
        return "the acknowledgement names another register"
    return None


async def _register_body(session: AsyncSession, me: NodeIdentity, register: TaxRegister) -> bytes:
    messages = await repository.register_messages(session, register.register_id)
    doc: dict[str, Any] = {
        "register_id": register.register_id,
        "sender": me.node,
        "recipient": me.peer,
        "created_at": register.created_at.isoformat(),
        "messages": [
            {"message_id": m.message_id, "kind": m.kind, "payload": m.payload, "signature": m.signature}
            for m in messages
        ],
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


async def send_pending(
    db: Database, settings: Settings, client: httpx.AsyncClient | None = None, *, now: datetime | None = None
) -> SendReport:
    """Seal the outbox into registers and POST each due register to the peer until it is acknowledged.

    A register that fails (peer down, refused, an acknowledgement that does not verify) is tried again
    after a doubling delay; its messages stay in it, so a retry sends the same register.
    """
    me = node_identity(settings)
    if me.peer_url is None:
        raise ValidationFailed([FieldError("settings.tax_peer_url", "the peer's URL is not configured")])
    report = SendReport()
    now = now or utcnow()
    async with db.session() as session:
        if await seal_registers(session, settings, now):
            await commit(session)
        due = [r.register_id for r in await repository.registers_to_send(session, now, 1000)]
    own_client = client is None
    http = client or httpx.AsyncClient(timeout=30)
    try:
        for register_id in due:
            async with db.session() as session:
                register = await repository.register(session, "out", register_id)
                if register is None or register.acknowledged_at is not None:
                    continue
                body = await _register_body(session, me, register)
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                NODE_HEADER: me.node,
                TIMESTAMP_HEADER: stamp,
                DIGEST_HEADER: body_digest(body),
                SIGNATURE_HEADER: sign(
                    me.private_key, request_bytes("POST", REGISTERS_PATH, stamp, me.node, body)
                ),
            }
            try:
                response = await http.post(me.peer_url + REGISTERS_PATH, content=body, headers=headers)
                problem = _verify_ack(me, response, register_id)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            async with db.session() as session:
                register = await repository.register(session, "out", register_id)
                assert register is not None
                if problem is None:
                    count = await repository.acknowledge_register(session, register_id, utcnow())
                    audit.record(
                        session,
                        actor=f"node:{me.node}",
                        action="tax_register.acknowledged",
                        entity_type="tax_register",
                        entity_id=register_id,
                        before=None,
                        after={"messages": count, "attempts": register.attempts + 1},
                    )
                    register.attempts += 1
                    report.registers_sent += 1
                    report.messages_acknowledged += count
                else:
                    register.attempts += 1
                    delay = retry_delay(
                        register.attempts, settings.tax_retry_base_s, settings.tax_retry_cap_s
                    )
                    register.next_attempt_at = utcnow() + timedelta(seconds=delay)
                    register.last_error = problem[:2000]
                    report.failures.append(f"{register_id}: {problem}")
                    log.warning(
                        "tax register %s not delivered (attempt %d): %s",
                        register_id,
                        register.attempts,
                        problem,
                    )
                await commit(session)
    finally:
        if own_client:
            await http.aclose()
    return report
