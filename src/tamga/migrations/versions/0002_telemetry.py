"""telemetry: the append-only fixes table (partitioned by day on PostgreSQL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00

On PostgreSQL `fixes` is PARTITION BY RANGE (time): one partition per UTC day for a window around the
day of the migration, and a DEFAULT partition for anything outside (a black box from last month, a device
clock in the future). `tamga.ingest.store.ensure_partitions` adds the coming days' partitions when the
gateways start and then every few hours. SQLite has one plain table.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import tamga.kit.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAYS_BEFORE = 7
DAYS_AFTER = 7


def _create_day_partition(day: date) -> None:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    op.execute(
        f"CREATE TABLE IF NOT EXISTS fixes_p{day:%Y%m%d} PARTITION OF fixes "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def upgrade() -> None:
    op.create_table(
        "fixes",
        sa.Column("device_id", sa.String(length=40), nullable=False),
        sa.Column("time", tamga.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", tamga.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("protocol", sa.String(length=12), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("course", sa.Integer(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("black_box", sa.Boolean(), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=True),
        sa.Column("tampered", sa.Boolean(), nullable=True),
        sa.Column("armed", sa.Boolean(), nullable=True),
        sa.Column("low_battery", sa.Boolean(), nullable=True),
        sa.Column("battery_v", sa.Float(), nullable=True),
        sa.Column("movement_id", sa.BigInteger(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "time", "record_id", name=op.f("pk_fixes")),
        postgresql_partition_by="RANGE (time)",
    )
    op.create_index("ix_fixes_movement_time", "fixes", ["movement_id", "time"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE IF NOT EXISTS fixes_default PARTITION OF fixes DEFAULT")
        today = datetime.now(UTC).date()
        for offset in range(-DAYS_BEFORE, DAYS_AFTER + 1):
            _create_day_partition(today + timedelta(days=offset))


def downgrade() -> None:
    op.drop_index("ix_fixes_movement_time", table_name="fixes")
    op.drop_table("fixes")  # on PostgreSQL its partitions go with it
