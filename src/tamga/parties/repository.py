"""Queries for operators, vehicles and seals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.models import Operator, Seal, Vehicle


async def operator(session: AsyncSession, operator_id: int) -> Operator | None:
    return await session.get(Operator, operator_id)


async def operators_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Operator]:
    stmt = select(Operator).where(Operator.id.in_(set(ids)))
    return {op.id: op for op in (await session.execute(stmt)).scalars().all()}


async def operator_by_tax_id(session: AsyncSession, country: str, tax_id: str) -> Operator | None:
    stmt = select(Operator).where(Operator.country == country, Operator.tax_id == tax_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_operators(
    session: AsyncSession, *, after: int | None, limit: int, only_id: int | None = None
) -> Sequence[Operator]:
    stmt = select(Operator).order_by(Operator.id).limit(limit)
    if after is not None:
        stmt = stmt.where(Operator.id > after)
    if only_id is not None:
        stmt = stmt.where(Operator.id == only_id)
    return (await session.execute(stmt)).scalars().all()


async def vehicle_by_plate(session: AsyncSession, country: str, plate: str) -> Vehicle | None:
    stmt = select(Vehicle).where(Vehicle.country == country, Vehicle.plate == plate)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_vehicles(
    session: AsyncSession, *, carrier_id: int | None, after: int | None, limit: int
) -> Sequence[Vehicle]:
    stmt = select(Vehicle).order_by(Vehicle.id).limit(limit)
    if carrier_id is not None:
        stmt = stmt.where(Vehicle.carrier_id == carrier_id)
    if after is not None:
        stmt = stmt.where(Vehicle.id > after)
    return (await session.execute(stmt)).scalars().all()


async def seal_by_serial(session: AsyncSession, serial: str) -> Seal | None:
    return (await session.execute(select(Seal).where(Seal.serial == serial))).scalar_one_or_none()


async def seals_by_serials(
    session: AsyncSession, serials: Sequence[str], *, lock: bool = False
) -> list[Seal]:
    stmt = select(Seal).where(Seal.serial.in_(serials)).order_by(Seal.id)
    if lock:
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt)).scalars().all())


async def list_seals(
    session: AsyncSession, *, carrier_id: int | None, after: int | None, limit: int
) -> Sequence[Seal]:
    stmt = select(Seal).order_by(Seal.id).limit(limit)
    if carrier_id is not None:
        stmt = stmt.where(Seal.carrier_id == carrier_id)
    if after is not None:
        stmt = stmt.where(Seal.id > after)
    return (await session.execute(stmt)).scalars().all()
