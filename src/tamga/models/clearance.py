"""Tables of the clearance feature: goods declarations, their items, and the declarants' prepaid accounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tamga.kit.db import Base, BigId, Quantity


class GoodsDeclaration(Base):
    """A goods declaration (import or export), registered on lodging, with its assessment and lane."""

    __tablename__ = "goods_declarations"
    __table_args__ = (
        Index("ix_goods_declarations_queue", "office_code", "status", "id"),
        Index("ix_goods_declarations_country_id", "country", "id"),
        Index("ix_goods_declarations_declarant_id_id", "declarant_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    registration_number: Mapped[str] = mapped_column(String(30), unique=True)
    direction: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    lane: Mapped[str] = mapped_column(String(10))
    declarant_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    declarant_aeo: Mapped[bool] = mapped_column(Boolean)
    country: Mapped[str] = mapped_column(String(2))
    office_code: Mapped[str] = mapped_column(String(10))
    consignor: Mapped[dict[str, Any]] = mapped_column(JSON)
    consignee: Mapped[dict[str, Any]] = mapped_column(JSON)
    transport: Mapped[dict[str, Any]] = mapped_column(JSON)
    dispatch_country: Mapped[str] = mapped_column(String(2))
    destination_country: Mapped[str] = mapped_column(String(2))
    transit_mrn: Mapped[str | None] = mapped_column(String(18))
    transit_movement_id: Mapped[int | None] = mapped_column(ForeignKey("movements.id"))
    currency: Mapped[str] = mapped_column(String(3))
    customs_value: Mapped[Decimal]
    duty: Mapped[Decimal]
    excise: Mapped[Decimal]
    vat: Mapped[Decimal]
    fee: Mapped[Decimal]
    total_payable: Mapped[Decimal]
    valuation: Mapped[dict[str, Any]] = mapped_column(JSON)  # the adjustments, converted and apportioned
    fee_charge: Mapped[dict[str, Any]] = mapped_column(JSON)  # the customs fee with its trace
    risk: Mapped[dict[str, Any]] = mapped_column(JSON)  # lane, hits, random selection, profile set
    post_clearance_audit: Mapped[bool] = mapped_column(Boolean, default=False)
    irregular: Mapped[bool] = mapped_column(Boolean, default=False)  # a check found irregularities
    assigned_to: Mapped[str | None] = mapped_column(String(200))
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[dt.datetime]
    released_at: Mapped[dt.datetime | None]
    refused_at: Mapped[dt.datetime | None]

    items: Mapped[list[GoodsDeclarationItem]] = relationship(
        lazy="raise", order_by="GoodsDeclarationItem.number", cascade="all, delete-orphan"
    )


class GoodsDeclarationItem(Base):
    """One goods item: its description, its customs value and what it owes, with the traces."""

    __tablename__ = "goods_declaration_items"
    __table_args__ = (UniqueConstraint("declaration_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("goods_declarations.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    hs_code: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(String(500))
    origin: Mapped[str] = mapped_column(String(2))
    preference: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    supplementary_unit: Mapped[str | None] = mapped_column(String(10))
    net_mass_kg: Mapped[Decimal] = mapped_column(Quantity)
    gross_mass_kg: Mapped[Decimal] = mapped_column(Quantity)
    price: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    vat_reduced: Mapped[bool] = mapped_column(Boolean, default=False)
    price_national: Mapped[Decimal]
    customs_value: Mapped[Decimal]
    duty: Mapped[Decimal]
    excise: Mapped[Decimal]
    vat: Mapped[Decimal]
    valuation: Mapped[dict[str, Any]] = mapped_column(JSON)  # the rate and each adjustment's share
    charges: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # duty, excise, VAT with their traces


class ClearanceAccount(Base):
    """A declarant's prepaid account at one state's customs, in that state's currency."""

    __tablename__ = "clearance_accounts"
    __table_args__ = (
        UniqueConstraint("operator_id", "country"),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[Decimal]
    created_at: Mapped[dt.datetime]


class AccountEntry(Base):
    """One movement on a prepaid account: a deposit or a debit, with the balance after it."""

    __tablename__ = "clearance_account_entries"
    __table_args__ = (Index("ix_clearance_account_entries_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("clearance_accounts.id"))
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal]  # positive for a deposit, negative for a debit
    balance_after: Mapped[Decimal]
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("goods_declarations.id"))
    reference: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(200))
