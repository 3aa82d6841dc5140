"""Queries for exchange rates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.kit.upsert import insert_for
from tamga.models.rates import ExchangeRateRow
from tamga.rates.domain import Authority, ExchangeRate, window_start


def as_rate(row: ExchangeRateRow) -> ExchangeRate:
    """Give the catalog value of a stored row."""
    return ExchangeRate(
        date=row.date,
        authority=cast(Authority, row.authority),
        base="RUB" if row.authority == "CBR" else "BYN",
        currency=row.currency,
        nominal=row.nominal,
        rate=exact(Decimal(row.rate)),
        illustrative=row.illustrative,
    )


def exact(value: Decimal) -> Decimal:
    """Give the value at the banks' 4 decimal places, or more where it has more (not the column's 10)."""
    trimmed = value.normalize()
    if trimmed.as_tuple().exponent > -4:  # type: ignore[operator]
        return trimmed.quantize(Decimal("0.0001"))
    return trimmed


async def latest_on_or_before(
    session: AsyncSession, authority: str, currency: str, day: date
) -> ExchangeRateRow | None:
    """Give the newest row dated within LOOKBACK up to `day` (the candidate in force)."""
    r = ExchangeRateRow
    stmt = (
        select(r)
        .where(r.authority == authority, r.currency == currency)
        .where(r.date <= day, r.date >= window_start(day))
        .order_by(r.date.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def in_window(
    session: AsyncSession, authority: str, day: date, currencies: Iterable[str] | None
) -> Sequence[ExchangeRateRow]:
    """Give every row of the authority dated within LOOKBACK up to `day`, newest first (one query)."""
    r = ExchangeRateRow
    stmt = select(r).where(r.authority == authority, r.date <= day, r.date >= window_start(day))
    if currencies is not None:
        stmt = stmt.where(r.currency.in_(sorted(set(currencies))))
    stmt = stmt.order_by(r.currency, r.date.desc())
    return (await session.execute(stmt)).scalars().all()


async def of_day(session: AsyncSession, authority: str, day: date) -> dict[str, ExchangeRateRow]:
    """Give the rows dated exactly `day`, by currency."""
    r = ExchangeRateRow
    stmt = select(r).where(r.authority == authority, r.date == day)
    return {row.currency: row for row in (await session.execute(stmt)).scalars()}


async def keys_between(session: AsyncSession, first: date, last: date) -> set[tuple[str, str, date]]:
    """Give the (authority, currency, date) of every row dated from `first` to `last`."""
    r = ExchangeRateRow
    stmt = select(r.authority, r.currency, r.date).where(r.date >= first, r.date <= last)
    return {(a, c, d) for a, c, d in (await session.execute(stmt)).all()}


async def insert_new(
    session: AsyncSession, rates: Sequence[tuple[ExchangeRate, str]], *, imported_at: datetime
) -> int:
    """Insert the (rate, source) pairs not yet stored (stored keys are left alone); give how many were added.

    One statement executed for all rows: SQLAlchemy sends them as multi-row INSERTs of a cached form
    ("insertmanyvalues", within the drivers' parameter limits) and gathers each batch's RETURNING.
    """
    if not rates:
        return 0
    values: list[dict[str, Any]] = [
        {
            "authority": x.authority,
            "currency": x.currency,
            "date": x.date,
            "nominal": x.nominal,
            "rate": x.rate,
            "source": source,
            "illustrative": x.illustrative,
            "imported_at": imported_at,
        }
        for x, source in rates
    ]
    stmt = (
        insert_for(session, ExchangeRateRow)
        .on_conflict_do_nothing(index_elements=["authority", "currency", "date"])
        .returning(ExchangeRateRow.id)
    )
    return len((await session.execute(stmt, values)).all())


async def replace(session: AsyncSession, rate: ExchangeRate, *, source: str, imported_at: datetime) -> None:
    """Overwrite the stored value of (authority, currency, date)."""
    r = ExchangeRateRow
    stmt = (
        update(r)
        .where(r.authority == rate.authority, r.currency == rate.currency, r.date == rate.date)
        .values(
            nominal=rate.nominal,
            rate=rate.rate,
            source=source,
            illustrative=rate.illustrative,
            imported_at=imported_at,
        )
    )
    await session.execute(stmt)
