"""Guarantees, transit movements and everything that hangs off a movement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tamga.kit.db import Base, BigId, Quantity


class Counter(Base):
    """A named sequence (per office and day, per office and year) for registration numbers and MRNs."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Guarantee(Base):
    """A transit guarantee: its reference amount, what movements have reserved and what was recovered."""

    __tablename__ = "guarantees"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    grn: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    holder_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    access_code_hash: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    reference_amount: Mapped[Decimal]
    reserved_amount: Mapped[Decimal]
    recovered_amount: Mapped[Decimal]
    valid_from: Mapped[dt.date]
    valid_until: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(20), default="valid")
    used: Mapped[bool] = mapped_column(default=False)  # an individual guarantee serves one movement
    created_at: Mapped[dt.datetime]


class Movement(Base):
    """A transit declaration and the movement it becomes, with its lifecycle state."""

    __tablename__ = "movements"
    __table_args__ = (
        UniqueConstraint("holder_id", "lrn"),
        Index("ix_movements_status_time_limit", "status", "time_limit"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lrn: Mapped[str] = mapped_column(String(22))
    mrn: Mapped[str | None] = mapped_column(String(18), unique=True)
    registration_number: Mapped[str | None] = mapped_column(String(30), unique=True)
    # status and holder_id are the leading columns of ix_movements_status_time_limit and the unique
    # (holder_id, lrn): no index of their own (migration 0009)
    status: Mapped[str] = mapped_column(String(20))
    holder_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    carrier_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    consignor: Mapped[dict[str, Any]] = mapped_column(JSON)
    consignee: Mapped[dict[str, Any]] = mapped_column(JSON)
    departure_office: Mapped[str] = mapped_column(String(10))
    destination_office: Mapped[str] = mapped_column(String(10))
    destination_country: Mapped[str] = mapped_column(String(2))
    transit_offices: Mapped[list[str]] = mapped_column(JSON)
    countries: Mapped[list[str]] = mapped_column(JSON)  # every state whose office the movement touches
    itinerary: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    route_length_km: Mapped[Decimal] = mapped_column(Quantity)
    guarantee_id: Mapped[int] = mapped_column(ForeignKey("guarantees.id"), index=True)
    guarantee_grn: Mapped[str] = mapped_column(String(24))
    amount_at_stake: Mapped[Decimal]
    amount_currency: Mapped[str] = mapped_column(String(3))
    reserved_amount: Mapped[Decimal]  # what release drew on the guarantee (in its currency)
    total_packages: Mapped[int] = mapped_column(Integer)
    total_gross_mass_kg: Mapped[Decimal] = mapped_column(Quantity)
    item_count: Mapped[int] = mapped_column(Integer)
    # Small value lists of the aggregate, kept on its row: [{plate, country, active}], [{serial, status}].
    # A transhipment deactivates a vehicle and adds one; the seals' own rows say which movement they arm.
    vehicles: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    seals: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    rejection: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    # monitoring settings an operator set: {category, corridor_width_m, thresholds} (monitoring.domain)
    monitoring: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    time_limit: Mapped[dt.datetime | None]
    lodged_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
    released_at: Mapped[dt.datetime | None]
    arrived_at: Mapped[dt.datetime | None]
    discharged_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    items: Mapped[list[MovementItem]] = relationship(
        lazy="raise", order_by="MovementItem.number", cascade="all, delete-orphan"
    )
    events: Mapped[list[MovementEvent]] = relationship(
        lazy="raise", order_by="MovementEvent.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}


class MovementItem(Base):
    """One goods item of a transit declaration."""

    __tablename__ = "movement_items"
    __table_args__ = (UniqueConstraint("movement_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    movement_id: Mapped[int] = mapped_column(ForeignKey("movements.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    hs_code: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(String(500))
    packages: Mapped[int] = mapped_column(Integer)
    package_kind: Mapped[str] = mapped_column(String(10))
    gross_mass_kg: Mapped[Decimal] = mapped_column(Quantity)
    net_mass_kg: Mapped[Decimal] = mapped_column(Quantity)
    value: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    origin: Mapped[str] = mapped_column(String(2))


class MovementOffice(Base):
    """Which offices (and so which states) a movement touches: the basis of officers' scope."""

    __tablename__ = "movement_offices"
    __table_args__ = (
        Index("ix_movement_offices_office", "office_code", "movement_id"),
        Index("ix_movement_offices_country", "country", "movement_id"),
    )

    movement_id: Mapped[int] = mapped_column(ForeignKey("movements.id", ondelete="CASCADE"), primary_key=True)
    office_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    role: Mapped[str] = mapped_column(String(12), primary_key=True)
    country: Mapped[str] = mapped_column(String(2))


class MovementEvent(Base):
    """The movement's timeline: acceptance, release, crossings, incidents, arrival, remarks."""

    __tablename__ = "movement_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    movement_id: Mapped[int] = mapped_column(ForeignKey("movements.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(30))
    office_code: Mapped[str | None] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
