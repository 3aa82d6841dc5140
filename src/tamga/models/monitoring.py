"""Monitoring alarms: what the rules opened on a released movement, and what officers did about them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tamga.kit.db import Base, BigId


class Alarm(Base):
    """An alarm of one rule on one movement: open, acknowledged, then resolved (by an officer or cleared)."""

    __tablename__ = "alarms"
    __table_args__ = (
        # At most one alarm not yet resolved per movement and rule; the service checks first, this holds
        # against a second writer.
        Index(
            "uq_alarms_open_movement_rule",
            "movement_id",
            "rule",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_alarms_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    movement_id: Mapped[int] = mapped_column(ForeignKey("movements.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    opened_at: Mapped[dt.datetime]
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{time, lat, lon}] of the fixes
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[dt.datetime | None]
    comment: Mapped[str | None] = mapped_column(Text)


class MonitoringProgress(Base):
    """How far a monitoring consumer has taken the stored fixes: every fix it was handed that was received
    at or before `received_through` has been through the engine, and what the engine decided is stored.

    Written in the transaction of a batch's outcome (every batch that stored something, else at most once
    a second); read when a consumer starts, to catch up on fixes that were stored (and confirmed to their
    devices) but lost with the in-process bus in a crash, or never published to the NATS bus."""

    __tablename__ = "monitoring_progress"

    consumer: Mapped[str] = mapped_column(String(40), primary_key=True)
    received_through: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    # With the NATS JetStream bus: the stream (name@creation time) and the sequence of the last message
    # taken, written with the outcome of every batch that stored something (None: the in-process bus).
    bus_stream: Mapped[str | None] = mapped_column(String(120))
    bus_sequence: Mapped[int | None] = mapped_column(BigInteger)
