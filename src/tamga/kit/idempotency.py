"""Idempotency-Key on POST: a retried request gets the first outcome, never a second effect.

The key is reserved (committed) before the request runs, so a concurrent duplicate is refused
with 409 while the first is in flight; the response is stored when it is known. A 5xx, a 401 or
a crash frees the key (5xx and 401 by deleting the reservation; after a crash the reservation
stays without a response, and a retry is told so with 409 rather than run twice).

On PostgreSQL each of these is one autocommitted statement on a side connection of the driver
(`kit.db.autocommit`):
the reservation an INSERT ... ON CONFLICT DO NOTHING, the outcome an UPDATE, the release a DELETE,
with no BEGIN or COMMIT round trips. SQLite uses a session for each, as its writers must queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from sqlalchemy import Delete, Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tamga.kit.clock import utcnow
from tamga.kit.db import Database, autocommit
from tamga.kit.errors import Conflict, FieldError, ValidationFailed
from tamga.kit.http import problem_response, replay_body
from tamga.models import IdempotencyRecord

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 200

Identify = Callable[[str], Awaitable[str | None]]


# --- repository -----------------------------------------------------------------------------------


def _find(principal: str, key: str) -> Select[IdempotencyRecord]:
    return select(IdempotencyRecord).where(
        IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
    )


def _delete(principal: str, key: str) -> Delete:
    return delete(IdempotencyRecord).where(
        IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
    )


async def find_record(session: AsyncSession, principal: str, key: str) -> IdempotencyRecord | None:
    return (await session.execute(_find(principal, key))).scalar_one_or_none()


async def delete_record(session: AsyncSession, principal: str, key: str) -> None:
    await session.execute(_delete(principal, key))


# PostgreSQL: single autocommitted statements on the side pool's driver (`kit.db.autocommit`).
_PG_CLAIM = (
    "INSERT INTO idempotency_records (principal, key, fingerprint, created_at) "
    "VALUES ($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::TIMESTAMPTZ) "
    "ON CONFLICT (principal, key) DO NOTHING RETURNING id"
)
_PG_FIND = "SELECT * FROM idempotency_records WHERE principal = $1::VARCHAR AND key = $2::VARCHAR"
_PG_STORE = (
    "UPDATE idempotency_records SET status_code = $3::INTEGER, content_type = $4::VARCHAR, body = $5::BYTEA "
    "WHERE principal = $1::VARCHAR AND key = $2::VARCHAR"
)
_PG_FORGET = "DELETE FROM idempotency_records WHERE principal = $1::VARCHAR AND key = $2::VARCHAR"


# --- middleware -----------------------------------------------------------------------------------


class IdempotencyMiddleware:
    """Replays the stored response of a POST whose Idempotency-Key was seen before."""

    def __init__(self, app: ASGIApp, database: Callable[[], Database], identify: Identify) -> None:
        self.app = app
        self.database = database
        self.identify = identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        principal = await self.identify(authorization) if raw_key is not None else None
        if raw_key is None or principal is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        path = scope.get("path", "")
        if not key or len(key) > MAX_KEY_LENGTH:
            reason = f"1 to {MAX_KEY_LENGTH} characters"
            error = ValidationFailed([FieldError("header.Idempotency-Key", reason)])
            await problem_response(error, path)(scope, receive, send)
            return
        body: bytes = scope.get("state", {}).get("raw_body", b"")
        fingerprint = hashlib.sha256(
            b"\0".join([path.encode(), scope.get("query_string", b""), body])
        ).hexdigest()

        db = self.database()
        refusal = await self._reserve(db, principal, key, fingerprint)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        status = 500
        content_type = "application/json"
        chunks: list[bytes] = []
        settled = False

        async def settle() -> None:
            nonlocal settled
            if settled:
                return
            settled = True
            if status >= 500 or status == 401:
                await self._forget(db, principal, key)
            else:
                await self._store(db, principal, key, status, content_type, b"".join(chunks))

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # settle before the client has the whole response, so a retry finds the outcome
                    await settle()
            await send(message)

        try:
            await self.app(scope, replay_body(body, receive), capture)
        except BaseException:
            await self._forget(db, principal, key)
            raise
        await settle()

    async def _reserve(self, db: Database, principal: str, key: str, fingerprint: str) -> ASGIApp | None:
        """Reserve the key, or give the response that answers a repeat of it."""
        record: IdempotencyRecord | None
        async with autocommit(db.engine) as conn:
            if conn is not None:
                if await conn.fetchval(_PG_CLAIM, principal, key, fingerprint, utcnow()) is not None:
                    return None
                row = await conn.fetchrow(_PG_FIND, principal, key)
                record = IdempotencyRecord(**row) if row is not None else None
            else:
                async with db.session() as session:
                    session.add(
                        IdempotencyRecord(
                            principal=principal, key=key, fingerprint=fingerprint, created_at=utcnow()
                        )
                    )
                    try:
                        await session.commit()
                        return None
                    except IntegrityError:
                        await session.rollback()
                    record = await find_record(session, principal, key)
        if record is None:  # freed between our insert and read: the client may simply retry
            return problem_response(Conflict("a request with this Idempotency-Key just finished; retry"))
        if record.fingerprint != fingerprint:
            return problem_response(
                ValidationFailed(
                    [FieldError("header.Idempotency-Key", "already used for a different request")]
                )
            )
        if record.status_code is None:
            return problem_response(
                Conflict("a request with this Idempotency-Key is in progress or its outcome is unknown")
            )
        return _Replay(record.status_code, record.content_type or "application/json", record.body or b"")

    async def _store(
        self, db: Database, principal: str, key: str, status: int, content_type: str, body: bytes
    ) -> None:
        async with autocommit(db.engine) as conn:
            if conn is not None:
                await conn.execute(_PG_STORE, principal, key, status, content_type, body)
                return
        async with db.session() as session:
            record = await find_record(session, principal, key)
            if record is not None:
                record.status_code, record.content_type, record.body = status, content_type, body
                await session.commit()

    async def _forget(self, db: Database, principal: str, key: str) -> None:
        async with autocommit(db.engine) as conn:
            if conn is not None:
                await conn.execute(_PG_FORGET, principal, key)
                return
        async with db.session() as session:
            await delete_record(session, principal, key)
            await session.commit()


class _Replay:
    """The stored response, sent again with `Idempotent-Replayed: true`."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status, self.content_type, self.body = status, content_type, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (b"content-type", self.content_type.encode("latin-1")),
                    (b"content-length", str(len(self.body)).encode()),
                    (b"idempotent-replayed", b"true"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})
