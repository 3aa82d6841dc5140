"""Queries of the taxation feature: applications, payments, claims, confirmations, outbox and registers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.auth.domain import Principal, Role
from tamga.kit.upsert import insert_for
from tamga.models import Counter
from tamga.models.taxation import (
    TaxApplication,
    TaxApplicationVersion,
    TaxClaim,
    TaxConfirmation,
    TaxInboxMessage,
    TaxOutboxMessage,
    TaxPayment,
    TaxRegister,
)


async def next_counter(session: AsyncSession, name: str) -> int:
    """Give the next value of a named counter (one atomic statement on both databases)."""
    stmt = insert_for(session, Counter).values([{"name": name, "value": 1}])
    stmt = stmt.on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value + 1}
    ).returning(Counter.value)
    return int((await session.execute(stmt)).scalar_one())


# --- applications ---------------------------------------------------------------------------------


async def application_by_number(
    session: AsyncSession, number: str, *, lock: bool = False
) -> TaxApplication | None:
    stmt = select(TaxApplication).where(TaxApplication.number == number)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def live_application_with_fingerprint(session: AsyncSession, fingerprint: str) -> TaxApplication | None:
    stmt = select(TaxApplication).where(
        TaxApplication.fingerprint == fingerprint, TaxApplication.status != "withdrawn"
    )
    return (await session.execute(stmt)).scalars().first()


async def list_applications(
    session: AsyncSession, principal: Principal, *, status: str | None, after: int | None, limit: int
) -> Sequence[TaxApplication]:
    """Give the applications the principal may see, oldest first, a page at a time."""
    stmt = select(TaxApplication).order_by(TaxApplication.id).limit(limit)
    if principal.role is Role.TAX_OFFICER:
        stmt = stmt.where(TaxApplication.state == principal.country)
    elif principal.role is Role.DECLARANT:
        stmt = stmt.where(TaxApplication.importer_operator_id == principal.operator_id)
    elif principal.role is not Role.ADMINISTRATOR:
        return []
    if status is not None:
        stmt = stmt.where(TaxApplication.status == status)
    if after is not None:
        stmt = stmt.where(TaxApplication.id > after)
    return (await session.execute(stmt)).scalars().all()


async def versions(session: AsyncSession, application_id: int) -> Sequence[TaxApplicationVersion]:
    stmt = (
        select(TaxApplicationVersion)
        .where(TaxApplicationVersion.application_id == application_id)
        .order_by(TaxApplicationVersion.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def payments(session: AsyncSession, application_id: int) -> Sequence[TaxPayment]:
    stmt = select(TaxPayment).where(TaxPayment.application_id == application_id).order_by(TaxPayment.id)
    return (await session.execute(stmt)).scalars().all()


# --- claims and confirmations ---------------------------------------------------------------------


async def claim_by_number(session: AsyncSession, number: str, *, lock: bool = False) -> TaxClaim | None:
    stmt = select(TaxClaim).where(TaxClaim.number == number)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def claim_by_fingerprint(session: AsyncSession, fingerprint: str) -> TaxClaim | None:
    return (
        await session.execute(select(TaxClaim).where(TaxClaim.fingerprint == fingerprint))
    ).scalar_one_or_none()


async def list_claims(
    session: AsyncSession, principal: Principal, *, status: str | None, after: int | None, limit: int
) -> Sequence[TaxClaim]:
    """Give the claims the principal may see, oldest first, a page at a time."""
    stmt = select(TaxClaim).order_by(TaxClaim.id).limit(limit)
    if principal.role is Role.TAX_OFFICER:
        stmt = stmt.where(TaxClaim.exporter_country == principal.country)
    elif principal.role is Role.DECLARANT:
        stmt = stmt.where(TaxClaim.exporter_operator_id == principal.operator_id)
    elif principal.role is not Role.ADMINISTRATOR:
        return []
    if status is not None:
        stmt = stmt.where(TaxClaim.status == status)
    if after is not None:
        stmt = stmt.where(TaxClaim.id > after)
    return (await session.execute(stmt)).scalars().all()


async def unconfirmed_claims_between(
    session: AsyncSession, exporter_tax_id: str, buyer_tax_id: str
) -> Sequence[TaxClaim]:
    """Give the claims of an exporter on a buyer still waiting for a confirmation (pending or lapsed)."""
    stmt = (
        select(TaxClaim)
        .where(
            TaxClaim.exporter_tax_id == exporter_tax_id,
            TaxClaim.buyer_tax_id == buyer_tax_id,
            TaxClaim.confirmation_id.is_(None),
        )
        .order_by(TaxClaim.id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalars().all()


async def claims_confirmed_by(session: AsyncSession, confirmation_id: int) -> Sequence[TaxClaim]:
    stmt = select(TaxClaim).where(TaxClaim.confirmation_id == confirmation_id).with_for_update()
    return (await session.execute(stmt)).scalars().all()


async def pending_claims_shipped_on_or_before(
    session: AsyncSession, day: date, after: int, limit: int
) -> Sequence[TaxClaim]:
    """Give pending claims shipped on or before `day` (the ones a deadline may have reached), by id."""
    stmt = (
        select(TaxClaim)
        .where(TaxClaim.status == "pending", TaxClaim.shipped_on <= day, TaxClaim.id > after)
        .order_by(TaxClaim.id)
        .limit(limit)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalars().all()


async def confirmation(session: AsyncSession, confirmation_id: int) -> TaxConfirmation | None:
    return await session.get(TaxConfirmation, confirmation_id)


async def confirmation_numbers(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    """Give the application number of each confirmation id (one query for a page of claims)."""
    if not ids:
        return {}
    stmt = select(TaxConfirmation.id, TaxConfirmation.application_number).where(
        TaxConfirmation.id.in_(set(ids))
    )
    return {int(i): str(n) for i, n in (await session.execute(stmt)).all()}


async def confirmation_by_application(
    session: AsyncSession, sender: str, application_number: str
) -> TaxConfirmation | None:
    stmt = (
        select(TaxConfirmation)
        .where(TaxConfirmation.sender == sender, TaxConfirmation.application_number == application_number)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def active_confirmations_between(
    session: AsyncSession, seller_tax_id: str, importer_tax_id: str
) -> Sequence[TaxConfirmation]:
    stmt = (
        select(TaxConfirmation)
        .where(
            TaxConfirmation.seller_tax_id == seller_tax_id,
            TaxConfirmation.importer_tax_id == importer_tax_id,
            TaxConfirmation.status == "active",
        )
        .order_by(TaxConfirmation.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def claims_of_exporters(
    session: AsyncSession, country: str, shipped_from: date | None, shipped_to: date | None
) -> Sequence[TaxClaim]:
    """Give the 0 % claims of a state's exporters shipped in a window (either end open), by id."""
    stmt = select(TaxClaim).where(TaxClaim.exporter_country == country)
    if shipped_from is not None:
        stmt = stmt.where(TaxClaim.shipped_on >= shipped_from)
    if shipped_to is not None:
        stmt = stmt.where(TaxClaim.shipped_on <= shipped_to)
    return (await session.execute(stmt.order_by(TaxClaim.id))).scalars().all()


async def active_confirmations_of_sellers(session: AsyncSession, country: str) -> Sequence[TaxConfirmation]:
    """Give the confirmations in force that name a seller of the state, by id."""
    stmt = select(TaxConfirmation).where(
        TaxConfirmation.seller_country == country, TaxConfirmation.status == "active"
    )
    return (await session.execute(stmt.order_by(TaxConfirmation.id))).scalars().all()


# --- the exchange ---------------------------------------------------------------------------------


async def unregistered_outbox(session: AsyncSession, limit: int) -> Sequence[TaxOutboxMessage]:
    """Give outbox messages not yet put in a register, oldest first."""
    stmt = (
        select(TaxOutboxMessage)
        .where(TaxOutboxMessage.register_id.is_(None))
        .order_by(TaxOutboxMessage.id)
        .limit(limit)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalars().all()


async def registers_to_send(session: AsyncSession, now: datetime, limit: int) -> Sequence[TaxRegister]:
    """Give outgoing registers not acknowledged whose next attempt is due, oldest first."""
    stmt = (
        select(TaxRegister)
        .where(
            TaxRegister.direction == "out",
            TaxRegister.acknowledged_at.is_(None),
            TaxRegister.next_attempt_at <= now,
        )
        .order_by(TaxRegister.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def register(session: AsyncSession, direction: str, register_id: str) -> TaxRegister | None:
    stmt = select(TaxRegister).where(
        TaxRegister.direction == direction, TaxRegister.register_id == register_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def register_messages(session: AsyncSession, register_id: str) -> Sequence[TaxOutboxMessage]:
    stmt = (
        select(TaxOutboxMessage)
        .where(TaxOutboxMessage.register_id == register_id)
        .order_by(TaxOutboxMessage.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def acknowledge_register(session: AsyncSession, register_id: str, now: datetime) -> int:
    """Mark an outgoing register and its messages acknowledged; give how many messages it had."""
    await session.execute(
        update(TaxRegister)
        .where(TaxRegister.direction == "out", TaxRegister.register_id == register_id)
        .values(acknowledged_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        update(TaxOutboxMessage)
        .where(TaxOutboxMessage.register_id == register_id, TaxOutboxMessage.acknowledged_at.is_(None))
        .values(acknowledged_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def received_message_ids(session: AsyncSession, sender: str, message_ids: Sequence[str]) -> set[str]:
    stmt = select(TaxInboxMessage.message_id).where(
        TaxInboxMessage.sender == sender, TaxInboxMessage.message_id.in_(message_ids)
    )
    return set((await session.execute(stmt)).scalars().all())


async def exchange_counts(session: AsyncSession) -> tuple[int, int, int]:
    """Give (outbox messages not acknowledged, outgoing registers not acknowledged, registers received)."""
    pending = await session.scalar(
        select(func.count()).select_from(TaxOutboxMessage).where(TaxOutboxMessage.acknowledged_at.is_(None))
    )
    awaiting = await session.scalar(
        select(func.count())
        .select_from(TaxRegister)
        .where(TaxRegister.direction == "out", TaxRegister.acknowledged_at.is_(None))
    )
    received = await session.scalar(
        select(func.count()).select_from(TaxRegister).where(TaxRegister.direction == "in")
    )
    return int(pending or 0), int(awaiting or 0), int(received or 0)
