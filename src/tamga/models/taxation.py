"""Tables of the taxation feature: import applications (Annex 18), exporters' 0 % claims, and the signed
exchange of registers between the two tax authorities' nodes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tamga.kit.db import Base, BigId


class TaxApplication(Base):
    """An application for the import of goods and payment of indirect taxes, in its current version."""

    __tablename__ = "tax_applications"
    __table_args__ = (
        # The same application (importer, seller, contract, invoices) is filed once while not withdrawn.
        Index(
            "uq_tax_applications_live_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("status != 'withdrawn'"),
            postgresql_where=text("status != 'withdrawn'"),
        ),
        Index("ix_tax_applications_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    state: Mapped[str] = mapped_column(String(2))  # the importing state, whose authority decides
    status: Mapped[str] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    importer_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    importer_tax_id: Mapped[str] = mapped_column(String(12))
    importer_name: Mapped[str] = mapped_column(String(300))
    importer_region: Mapped[str | None] = mapped_column(String(6))  # ISO 3166-2, when known
    seller_country: Mapped[str] = mapped_column(String(2))
    seller_tax_id: Mapped[str] = mapped_column(String(12))
    seller_name: Mapped[str] = mapped_column(String(300))
    seller_region: Mapped[str | None] = mapped_column(String(6))
    contract_number: Mapped[str] = mapped_column(String(60))
    contract_date: Mapped[dt.date]
    registered_on: Mapped[dt.date]
    due_on: Mapped[dt.date]
    currency: Mapped[str] = mapped_column(String(3))  # the importing state's: RUB or BYN
    tax_base: Mapped[Decimal]
    vat: Mapped[Decimal]
    excise: Mapped[Decimal]
    total_due: Mapped[Decimal]
    paid: Mapped[Decimal]
    documents: Mapped[dict[str, Any]] = mapped_column(JSON)  # invoices and transport documents
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # each line with its computed amounts
    filed_by: Mapped[str] = mapped_column(String(200))
    filed_at: Mapped[dt.datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None]
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime]


class TaxApplicationVersion(Base):
    """One version of an application as it stood: filed, corrected, withdrawn (the history kept)."""

    __tablename__ = "tax_application_versions"
    __table_args__ = (UniqueConstraint("application_id", "version", "event"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("tax_applications.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(20))  # filed, corrected, confirmed, refused, withdrawn
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]


class TaxPayment(Base):
    """A payment of the indirect taxes of an application."""

    __tablename__ = "tax_payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("tax_applications.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[dt.date]
    reference: Mapped[str] = mapped_column(String(60))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime]


class TaxClaim(Base):
    """An exporter's claim to the 0 % rate for one shipment, waiting for the other state's confirmation."""

    __tablename__ = "tax_claims"
    __table_args__ = (Index("ix_tax_claims_status_shipped_on", "status", "shipped_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12))
    exporter_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    exporter_country: Mapped[str] = mapped_column(String(2))
    exporter_tax_id: Mapped[str] = mapped_column(String(12))
    exporter_region: Mapped[str | None] = mapped_column(String(6))  # ISO 3166-2, when known
    buyer_country: Mapped[str] = mapped_column(String(2))
    buyer_tax_id: Mapped[str] = mapped_column(String(12))
    buyer_name: Mapped[str] = mapped_column(String(300))
    buyer_region: Mapped[str | None] = mapped_column(String(6))
    shipped_on: Mapped[dt.date]
    invoices: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    currency: Mapped[str] = mapped_column(String(3))  # the exporting state's
    base: Mapped[Decimal]  # the invoices in national currency at the shipment day's rate
    confirmation_id: Mapped[int | None] = mapped_column(ForeignKey("tax_confirmations.id"), index=True)
    confirmed_at: Mapped[dt.datetime | None]
    warned_150_at: Mapped[dt.datetime | None]
    warned_170_at: Mapped[dt.datetime | None]
    lapsed_at: Mapped[dt.datetime | None]
    vat_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    vat_due: Mapped[Decimal | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class TaxConfirmation(Base):
    """A confirmed application received from the other state's authority (withdrawn when it says so)."""

    __tablename__ = "tax_confirmations"
    __table_args__ = (
        UniqueConstraint("sender", "application_number"),
        Index("ix_tax_confirmations_parties", "seller_tax_id", "importer_tax_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sender: Mapped[str] = mapped_column(String(2))
    application_number: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))  # active, withdrawn
    importer_country: Mapped[str] = mapped_column(String(2))
    importer_tax_id: Mapped[str] = mapped_column(String(12))
    seller_country: Mapped[str] = mapped_column(String(2))
    seller_tax_id: Mapped[str] = mapped_column(String(12))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class TaxOutboxMessage(Base):
    """A signed message for the peer authority, written in the same commit as the decision it reports."""

    __tablename__ = "tax_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # confirmation, withdrawal
    application_number: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(200))
    register_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[dt.datetime]
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(index=True)


class TaxRegister(Base):
    """A register of messages sent to the peer (until acknowledged) or received from it (applied once)."""

    __tablename__ = "tax_registers"
    __table_args__ = (UniqueConstraint("direction", "register_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    register_id: Mapped[str] = mapped_column(String(36))
    direction: Mapped[str] = mapped_column(String(3))  # out, in
    peer: Mapped[str] = mapped_column(String(2))
    message_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[dt.datetime | None]


class TaxInboxMessage(Base):
    """A message received from the peer and applied (its id makes a second receipt a no-op)."""

    __tablename__ = "tax_inbox"
    __table_args__ = (UniqueConstraint("sender", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sender: Mapped[str] = mapped_column(String(2))
    message_id: Mapped[str] = mapped_column(String(36))
    register_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))
    application_number: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[dt.datetime]
