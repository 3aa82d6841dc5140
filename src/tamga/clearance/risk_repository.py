"""Queries of risk management: profiles and their versions, valuation observations."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tamga.kit.upsert import insert_for
from tamga.models.risk import RiskProfile, RiskProfileVersion, SelectionRates, ValuationObservation


async def profile_by_code(session: AsyncSession, code: str, *, lock: bool = False) -> RiskProfile | None:
    stmt = select(RiskProfile).where(RiskProfile.code == code)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def codes_present(session: AsyncSession, codes: Collection[str]) -> set[str]:
    """Give which of the codes already name a profile."""
    if not codes:
        return set()
    rows = await session.execute(select(RiskProfile.code).where(RiskProfile.code.in_(list(codes))))
    return set(rows.scalars().all())


async def versions_of(session: AsyncSession, profile_ids: Collection[int]) -> list[RiskProfileVersion]:
    """Give every version of the profiles, in version order."""
    if not profile_ids:
        return []
    stmt = (
        select(RiskProfileVersion)
        .where(RiskProfileVersion.profile_id.in_(list(profile_ids)))
        .order_by(RiskProfileVersion.profile_id, RiskProfileVersion.version)
    )
    return list((await session.execute(stmt)).scalars().all())


async def list_profiles(session: AsyncSession, *, after: int | None, limit: int) -> Sequence[RiskProfile]:
    stmt = select(RiskProfile).order_by(RiskProfile.id).limit(limit)
    if after is not None:
        stmt = stmt.where(RiskProfile.id > after)
    return (await session.execute(stmt)).scalars().all()


def _in_force(at: datetime) -> Any:
    """The condition: this version is the profile's newest one effective at `at`."""
    v, later = RiskProfileVersion, aliased(RiskProfileVersion)
    newer = exists().where(
        later.profile_id == v.profile_id,
        later.effective_from <= at,
        or_(
            later.effective_from > v.effective_from,
            and_(later.effective_from == v.effective_from, later.version > v.version),
        ),
    )
    return and_(v.effective_from <= at, ~newer)


async def in_force_keys(session: AsyncSession, at: datetime) -> list[tuple[int, str, int]]:
    """Give (version id, code, version) of every profile in force at `at` (retired ones left out)."""
    v = RiskProfileVersion
    stmt = (
        select(v.id, RiskProfile.code, v.version)
        .join(RiskProfile, RiskProfile.id == v.profile_id)
        .where(_in_force(at), v.retired.is_(False))
        .order_by(RiskProfile.code)
    )
    return [(int(i), str(c), int(n)) for i, c, n in (await session.execute(stmt)).all()]


async def versions_by_id(session: AsyncSession, ids: Collection[int]) -> list[tuple[str, RiskProfileVersion]]:
    """Give the versions with their profile codes."""
    if not ids:
        return []
    stmt = (
        select(RiskProfile.code, RiskProfileVersion)
        .join(RiskProfile, RiskProfile.id == RiskProfileVersion.profile_id)
        .where(RiskProfileVersion.id.in_(list(ids)))
    )
    return [(str(code), version) for code, version in (await session.execute(stmt)).all()]


async def observation_samples(
    session: AsyncSession,
    keys: Collection[tuple[str, str]],
    *,
    since: datetime,
    until: datetime,
    exclude_ref: str,
) -> dict[tuple[str, str], list[Decimal]]:
    """Give the unit values observed for each (HS6, origin) in [since, until), other declarations only."""
    if not keys:
        return {}
    o = ValuationObservation
    stmt = select(o.hs6, o.origin, o.value_per_kg_usd).where(
        tuple_(o.hs6, o.origin).in_(sorted(keys)),
        o.observed_at >= since,
        o.observed_at < until,
        o.declaration_ref != exclude_ref,
    )
    out: dict[tuple[str, str], list[Decimal]] = {}
    for hs6, origin, value in (await session.execute(stmt)).all():
        out.setdefault((hs6, origin), []).append(value)
    return out


async def record_observations(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> None:
    """Store unit values; an item already observed (a declaration screened again) is kept as it was."""
    values = list(rows)
    if not values:
        return
    stmt = insert_for(session, ValuationObservation).values(values)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["declaration_ref", "item_number"]))


async def selection_rates_at(session: AsyncSession, at: datetime) -> SelectionRates | None:
    """Give the selection rates in force at `at` (the latest effective then), if any were set."""
    stmt = (
        select(SelectionRates)
        .where(SelectionRates.effective_from <= at)
        .order_by(SelectionRates.effective_from.desc(), SelectionRates.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def selection_rates_history(session: AsyncSession) -> list[SelectionRates]:
    """Give every setting of the selection rates, oldest first."""
    stmt = select(SelectionRates).order_by(SelectionRates.effective_from, SelectionRates.id)
    return list((await session.execute(stmt)).scalars().all())


async def latest_selection_rates(session: AsyncSession) -> SelectionRates | None:
    stmt = (
        select(SelectionRates)
        .order_by(SelectionRates.effective_from.desc(), SelectionRates.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
