"""Tables of the risk feature: profiles, their immutable versions, and the valuation observations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamga.kit.db import Base, BigId


class RiskProfile(Base):
    """A risk profile's identity; what it tests lives in its versions."""

    __tablename__ = "risk_profiles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class RiskProfileVersion(Base):
    """One version of a profile, never changed: in force from `effective_from` until a later version is.

    A retirement is a version too (`retired`), so the profiles in force at any past instant can be told.
    """

    __tablename__ = "risk_profile_versions"
    __table_args__ = (
        UniqueConstraint("profile_id", "version"),
        Index("ix_risk_profile_versions_effective_from", "effective_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("risk_profiles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[dt.datetime]
    retired: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(Text)
    lane: Mapped[str] = mapped_column(String(10))
    measure: Mapped[str] = mapped_column(Text)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    random_rate: Mapped[Decimal | None] = mapped_column(Numeric(7, 6, asdecimal=True))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class ValuationObservation(Base):
    """The unit value of one declared item, for the distribution of its HS6 and origin."""

    __tablename__ = "risk_valuation_observations"
    __table_args__ = (
        UniqueConstraint("declaration_ref", "item_number"),
        Index("ix_risk_valuation_observations_hs6_origin", "hs6", "origin", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    declaration_ref: Mapped[str] = mapped_column(String(100))
    item_number: Mapped[int] = mapped_column(Integer)
    hs6: Mapped[str] = mapped_column(String(6))
    origin: Mapped[str] = mapped_column(String(2))
    value_per_kg_usd: Mapped[Decimal] = mapped_column(Numeric(24, 6, asdecimal=True))
    observed_at: Mapped[dt.datetime]


class SelectionRates(Base):
    """The minimum random selection rate of each lane, in force from `effective_from` until a later row is.

    Never changed once written; without any row, the rates of the data file `selection.json` apply.
    """

    __tablename__ = "risk_selection_rates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    effective_from: Mapped[dt.datetime] = mapped_column(index=True)
    rates: Mapped[dict[str, str]] = mapped_column(JSON)  # lane -> rate, as decimal strings
    aeo_rates: Mapped[dict[str, str]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(200))
