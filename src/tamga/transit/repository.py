"""Queries for guarantees, movements and their parts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from tamga.auth.domain import Principal, Role
from tamga.kit.upsert import insert_for
from tamga.models import (
    Counter,
    Guarantee,
    Movement,
    MovementOffice,
)

T = TypeVar("T")


async def next_counters(session: AsyncSession, *names: str) -> dict[str, int]:
    """Give the next value of each named counter, in one atomic statement on both databases."""
    stmt = insert_for(session, Counter).values([{"name": n, "value": 1} for n in sorted(names)])
    stmt = stmt.on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value + 1}
    ).returning(Counter.name, Counter.value)
    return {name: int(value) for name, value in (await session.execute(stmt)).all()}


async def next_counter(session: AsyncSession, name: str) -> int:
    """Give the next value of a named counter."""
    return (await next_counters(session, name))[name]


async def guarantee_by_grn(session: AsyncSession, grn: str) -> Guarantee | None:
    return (await session.execute(select(Guarantee).where(Guarantee.grn == grn))).scalar_one_or_none()


async def guarantee(session: AsyncSession, guarantee_id: int) -> Guarantee | None:
    return await session.get(Guarantee, guarantee_id, populate_existing=True)


async def reserve(session: AsyncSession, guarantee_id: int, amount: Decimal, *, single_use: bool) -> bool:
    """Draw `amount` on a guarantee if its balance covers it; tell whether it did (one atomic UPDATE).

    Concurrent releases serialise on the guarantee's row: the loser re-reads the balance after
    the winner commits and finds it short.
    """
    g = Guarantee.__table__.c
    stmt = (
        update(Guarantee)
        .where(g.id == guarantee_id, g.status == "valid")
        .where(g.reference_amount - g.reserved_amount - g.recovered_amount >= amount)
        .values(reserved_amount=g.reserved_amount + amount, used=True)
    )
    if single_use:
        stmt = stmt.where(g.used.is_(False))
    result = await session.execute(stmt.execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def release_reservation(
    session: AsyncSession, guarantee_id: int, amount: Decimal, *, recovered: bool
) -> None:
    """Give back (discharge) or turn into a recovery what a movement drew on a guarantee."""
    g = Guarantee.__table__.c
    values = {"reserved_amount": g.reserved_amount - amount}
    if recovered:
        values["recovered_amount"] = g.recovered_amount + amount
    stmt = update(Guarantee).where(g.id == guarantee_id).values(**values)
    await session.execute(stmt.execution_options(synchronize_session=False))


async def movement_by_ref(
    session: AsyncSession, ref: str, *, lock: bool = False, full: bool = False
) -> Movement | None:
    """Give a movement by MRN or id; `lock` holds its row until commit, `full` loads items and events."""
    stmt = select(Movement)
    if not (ref.isascii() and ref.isalnum()):
        return None
    if ref.isdigit() and len(ref) < 18:
        stmt = stmt.where(Movement.id == int(ref))
    else:
        stmt = stmt.where(Movement.mrn == ref.upper())
    if full:
        stmt = stmt.options(selectinload(Movement.items), selectinload(Movement.events))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def visible_to(stmt: Select[T], principal: Principal) -> Select[T] | None:
    """Give `stmt` (which selects from movements) narrowed to what the principal may see, or None for nothing.

    The query form of `tamga.transit.policy.can_see`: listings of movements and of what hangs off them
    (alarms) share it.
    """
    role = principal.role
    if role is Role.DECLARANT:
        return stmt.where(Movement.holder_id == principal.operator_id)
    if role is Role.CARRIER:
        return stmt.where(
            (Movement.carrier_id == principal.operator_id) | (Movement.holder_id == principal.operator_id)
        )
    if role in (Role.CUSTOMS_OFFICER, Role.MONITORING_OPERATOR):
        touches = exists().where(
            MovementOffice.movement_id == Movement.id, MovementOffice.country == principal.country
        )
        return stmt.where(touches)
    return stmt if role is Role.ADMINISTRATOR else None


async def list_movements(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    after: int | None,
    limit: int,
) -> Sequence[Movement]:
    """Give the movements the principal may see, newest last, a page at a time."""
    stmt = visible_to(select(Movement).order_by(Movement.id).limit(limit), principal)
    if stmt is None:
        return []
    if status is not None:
        stmt = stmt.where(Movement.status == status)
    if after is not None:
        stmt = stmt.where(Movement.id > after)
    return (await session.execute(stmt)).scalars().all()


async def overdue(
    session: AsyncSession, now: datetime, statuses: Sequence[str], limit: int
) -> Sequence[Movement]:
    """Give movements still under way whose time limit has passed."""
    stmt = (
        select(Movement)
        .where(Movement.status.in_(statuses), Movement.time_limit < now)
        .order_by(Movement.time_limit)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()
