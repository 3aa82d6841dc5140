"""Telemetry: every position fix a seal reported, append-only.

A fix is identified by the device's own identity of it: (device_id, time, record_id), where record_id is
the device's record number (EGTS RN, the JSON `record_id`) or 0 when the protocol numbers none (Wialon
IPS). A retransmitted or replayed fix hits that key and is not stored twice. On PostgreSQL the table is
partitioned by day on `time` (migration 0002, `tamga.ingest.store.ensure_partitions`), which is why the
key includes `time` and why there is no surrogate id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tamga.kit.db import Base


class TelemetryFix(Base):
    """One stored fix: where the seal was, what it said of itself, and the movement it served then."""

    __tablename__ = "fixes"
    __table_args__ = (
        Index("ix_fixes_movement_time", "movement_id", "time"),
        {"postgresql_partition_by": "RANGE (time)"},
    )

    device_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[dt.datetime]
    protocol: Mapped[str] = mapped_column(String(12))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    course: Mapped[int | None] = mapped_column(Integer)
    valid: Mapped[bool] = mapped_column(Boolean)
    black_box: Mapped[bool] = mapped_column(Boolean)
    opened: Mapped[bool | None] = mapped_column(Boolean)
    tampered: Mapped[bool | None] = mapped_column(Boolean)
    armed: Mapped[bool | None] = mapped_column(Boolean)
    low_battery: Mapped[bool | None] = mapped_column(Boolean)
    battery_v: Mapped[float | None] = mapped_column(Float)
    # The seal's movement when the fix was received; no foreign key: the history outlives its references
    # and a key check would cost every insert of the hottest table.
    movement_id: Mapped[int | None] = mapped_column(BigInteger)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
