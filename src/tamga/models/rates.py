"""Tables of the rates feature: the central banks' official rates, one row per authority, currency and day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, Date, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamga.kit.db import Base, BigId, UTCDateTime

# Exact: the banks publish 4 decimals (CBR's VunitRate up to 6 and more); never a float.
RateNumber = Numeric(24, 10, asdecimal=True)


class ExchangeRateRow(Base):
    """A rate as published: `rate` units of the authority's currency for `nominal` units of `currency`,
    in force from `date` until the next one (at most 10 days)."""

    __tablename__ = "exchange_rates"
    __table_args__ = (UniqueConstraint("authority", "currency", "date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    authority: Mapped[str] = mapped_column(String(4))
    currency: Mapped[str] = mapped_column(String(3))
    date: Mapped[dt.date] = mapped_column(Date)
    nominal: Mapped[int] = mapped_column(Integer)
    rate: Mapped[Decimal] = mapped_column(RateNumber)
    source: Mapped[str] = mapped_column(Text)
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
