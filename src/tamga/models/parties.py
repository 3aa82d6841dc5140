"""Economic operators, their vehicles, and electronic seals."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamga.kit.db import Base, BigId


class Operator(Base):
    """A business of Russia (INN, KPP, OGRN) or Belarus (UNP); may be a carrier and an AEO."""

    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("country", "tax_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(300))
    tax_id: Mapped[str] = mapped_column(String(12))  # INN (RU) or UNP (BY)
    kpp: Mapped[str | None] = mapped_column(String(9))
    ogrn: Mapped[str | None] = mapped_column(String(15))
    address: Mapped[str] = mapped_column(String(500), default="")
    region: Mapped[str | None] = mapped_column(String(6))
    is_carrier: Mapped[bool] = mapped_column(Boolean, default=False)
    aeo_status: Mapped[str] = mapped_column(String(20), default="none")
    aeo_certificate: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[dt.datetime]


class Vehicle(Base):
    """A carrier's truck or trailer, by plate and country of registration."""

    __tablename__ = "vehicles"
    __table_args__ = (UniqueConstraint("country", "plate"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    plate: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(20), default="tractor")
    created_at: Mapped[dt.datetime]


class Seal(Base):
    """An electronic navigation seal of a national operator (RU or BY)."""

    __tablename__ = "seals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    national_operator: Mapped[str] = mapped_column(String(2))
    protocol: Mapped[str] = mapped_column(String(20))
    device_id: Mapped[str] = mapped_column(String(40), unique=True)
    credential_hash: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(60), default="generic")
    carrier_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="available")
    movement_id: Mapped[int | None] = mapped_column(ForeignKey("movements.id"))
    created_at: Mapped[dt.datetime]
