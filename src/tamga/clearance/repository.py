"""Queries for goods declarations, the officer queue and prepaid accounts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Select, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from tamga.auth.domain import Principal, Role
from tamga.models import Alarm
from tamga.models.clearance import AccountEntry, ClearanceAccount, GoodsDeclaration
from tamga.transit.repository import next_counter

T = TypeVar("T")

__all__ = [
    "account",
    "account_of",
    "credit",
    "debit",
    "declarant_history",
    "declaration_by_ref",
    "entries",
    "list_accounts",
    "list_declarations",
    "next_counter",
    "queue",
    "transit_alarm_rules",
]


async def declaration_by_ref(
    session: AsyncSession, ref: str, *, lock: bool = False, full: bool = False
) -> GoodsDeclaration | None:
    """Give a declaration by id or registration number (slashes or dashes); `lock` holds its row."""
    stmt = select(GoodsDeclaration)
    if ref.isascii() and ref.isdigit() and len(ref) < 18:
        stmt = stmt.where(GoodsDeclaration.id == int(ref))
    elif ref.isascii() and 0 < len(ref) <= 30 and ref.replace("-", "").replace("/", "").isalnum():
        stmt = stmt.where(GoodsDeclaration.registration_number == ref.replace("-", "/"))
    else:
        return None
    if full:
        stmt = stmt.options(selectinload(GoodsDeclaration.items))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt.execution_options(populate_existing=lock))).scalar_one_or_none()


def visible_declarations(stmt: Select[T], principal: Principal) -> Select[T] | None:
    """Give `stmt` narrowed to the declarations the principal may see, or None for nothing."""
    if principal.role is Role.ADMINISTRATOR:
        return stmt
    if principal.role is Role.DECLARANT:
        return stmt.where(GoodsDeclaration.declarant_id == principal.operator_id)
    if principal.role is Role.CUSTOMS_OFFICER:
        return stmt.where(GoodsDeclaration.country == principal.country)
    return None


async def list_declarations(
    session: AsyncSession, principal: Principal, *, status: str | None, after: int | None, limit: int
) -> Sequence[GoodsDeclaration]:
    """Give the declarations the principal may see, oldest first, a page at a time."""
    stmt = visible_declarations(
        select(GoodsDeclaration).order_by(GoodsDeclaration.id).limit(limit), principal
    )
    if stmt is None:
        return []
    if status is not None:
        stmt = stmt.where(GoodsDeclaration.status == status)
    if after is not None:
        stmt = stmt.where(GoodsDeclaration.id > after)
    return (await session.execute(stmt)).scalars().all()


async def queue(
    session: AsyncSession, *, office: str | None, statuses: Collection[str], after: int | None, limit: int
) -> Sequence[GoodsDeclaration]:
    """Give the declarations waiting at an office (every office when None), first come first."""
    stmt = (
        select(GoodsDeclaration)
        .where(GoodsDeclaration.status.in_(sorted(statuses)))
        .order_by(GoodsDeclaration.id)
        .limit(limit)
    )
    if office is not None:
        stmt = stmt.where(GoodsDeclaration.office_code == office)
    if after is not None:
        stmt = stmt.where(GoodsDeclaration.id > after)
    return (await session.execute(stmt)).scalars().all()


async def held_for_funds(
    session: AsyncSession, declarant_id: int, country: str
) -> Sequence[GoodsDeclaration]:
    """Give a declarant's declarations whose automatic release waits for funds, oldest first, locked."""
    g = GoodsDeclaration
    stmt = (
        select(g)
        .where(
            g.declarant_id == declarant_id,
            g.country == country,
            g.status == "registered",
            g.hold_reason.is_not(None),
        )
        .order_by(g.id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalars().all()


async def declarant_history(
    session: AsyncSession, declarant_id: int, country: str
) -> tuple[int, int, datetime | None]:
    """Give the declarant's registered declarations in a state, those refused or irregular, and the first's time."""
    g = GoodsDeclaration
    bad = func.sum(case((or_(g.status == "refused", g.irregular.is_(True)), 1), else_=0))
    # min() keeps the column's type, so the time comes back aware in UTC on both databases
    stmt = select(func.count(g.id), bad, func.min(g.registered_at)).where(
        g.declarant_id == declarant_id, g.country == country
    )
    count, refusals, first_at = (await session.execute(stmt)).one()
    return int(count or 0), int(refusals or 0), first_at


async def transit_alarm_rules(session: AsyncSession, movement_id: int) -> tuple[str, ...]:
    """Give the monitoring rules that raised alarms on a movement, each once, in name order."""
    stmt = select(Alarm.rule).where(Alarm.movement_id == movement_id).distinct().order_by(Alarm.rule)
    return tuple((await session.execute(stmt)).scalars().all())


# --- prepaid accounts -----------------------------------------------------------------------------


async def account(session: AsyncSession, account_id: int) -> ClearanceAccount | None:
    return await session.get(ClearanceAccount, account_id, populate_existing=True)


async def account_of(session: AsyncSession, operator_id: int, country: str) -> ClearanceAccount | None:
    stmt = select(ClearanceAccount).where(
        ClearanceAccount.operator_id == operator_id, ClearanceAccount.country == country
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_accounts(
    session: AsyncSession, *, operator_id: int | None, country: str | None, after: int | None, limit: int
) -> Sequence[ClearanceAccount]:
    stmt = select(ClearanceAccount).order_by(ClearanceAccount.id).limit(limit)
    if operator_id is not None:
        stmt = stmt.where(ClearanceAccount.operator_id == operator_id)
    if country is not None:
        stmt = stmt.where(ClearanceAccount.country == country)
    if after is not None:
        stmt = stmt.where(ClearanceAccount.id > after)
    return (await session.execute(stmt)).scalars().all()


async def debit(session: AsyncSession, account_id: int, amount: Decimal) -> Decimal | None:
    """Take `amount` from an account if its balance covers it; give the new balance, or None (one UPDATE).

    Concurrent debits serialise on the account's row: PostgreSQL re-evaluates the condition after the
    winner commits, SQLite serialises writers (BEGIN IMMEDIATE), so the balance never goes below zero.
    """
    a = ClearanceAccount.__table__.c
    stmt = (
        update(ClearanceAccount)
        .where(a.id == account_id, a.balance >= amount)
        .values(balance=a.balance - amount)
        .returning(a.balance)
    )
    row = (await session.execute(stmt.execution_options(synchronize_session=False))).first()
    return None if row is None else Decimal(row[0])


async def credit(session: AsyncSession, account_id: int, amount: Decimal) -> Decimal:
    """Add `amount` to an account; give the new balance."""
    a = ClearanceAccount.__table__.c
    stmt = (
        update(ClearanceAccount)
        .where(a.id == account_id)
        .values(balance=a.balance + amount)
        .returning(a.balance)
    )
    return Decimal((await session.execute(stmt.execution_options(synchronize_session=False))).scalar_one())


async def entries(
    session: AsyncSession, account_id: int, *, after: int | None, limit: int
) -> Sequence[tuple[AccountEntry, str | None]]:
    """Give an account's entries, oldest first, with the registration number of the declaration debited."""
    stmt = (
        select(AccountEntry, GoodsDeclaration.registration_number)
        .outerjoin(GoodsDeclaration, GoodsDeclaration.id == AccountEntry.declaration_id)
        .where(AccountEntry.account_id == account_id)
        .order_by(AccountEntry.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(AccountEntry.id > after)
    return [(e, reg) for e, reg in (await session.execute(stmt)).all()]
