"""Queries of the ingest pillar: the seals devices authenticate as, and the append-only `fixes` table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.ingest.fix import Fix
from tamga.ingest.profiles import SealState
from tamga.kit.upsert import insert_for
from tamga.models import Seal, TelemetryFix

FixKey = tuple[str, datetime, int]
"""The device's own identity of a fix: (device_id, time, record_id)."""

_json = json.JSONEncoder(separators=(",", ":")).encode  # compact; one encoder, not one per call
PARTITION_LOCK: Final = 0x74616D6761  # pg_advisory_xact_lock key: one partition creator at a time


async def seal_by_device_id(session: AsyncSession, device_id: str) -> Seal | None:
    """The seal registered with this device id, or None."""
    return (await session.execute(select(Seal).where(Seal.device_id == device_id))).scalar_one_or_none()


async def seals_by_device_ids(session: AsyncSession, device_ids: Iterable[str]) -> dict[str, Seal]:
    """The registered seals among these device ids, by device id."""
    wanted = sorted(set(device_ids))
    if not wanted:
        return {}
    rows = (await session.execute(select(Seal).where(Seal.device_id.in_(wanted)))).scalars()
    return {seal.device_id: seal for seal in rows}


async def seal_by_id(session: AsyncSession, seal_id: int) -> Seal | None:
    return await session.get(Seal, seal_id)


async def movements_of_seals(session: AsyncSession, seal_ids: Iterable[int]) -> dict[int, int | None]:
    """Each seal's current movement (None when it serves none), read in the storing transaction."""
    wanted = sorted(set(seal_ids))
    if not wanted:
        return {}
    driver = await _postgres_driver(session)
    if driver is not None:
        # One parameter, whatever the number of seals: no IN list to render and no plan per length.
        records = await driver.fetch(_PG_SEAL_MOVEMENTS, wanted)
        return {int(seal_id): movement_id for seal_id, movement_id in records}
    rows = await session.execute(select(Seal.id, Seal.movement_id).where(Seal.id.in_(wanted)))
    return {seal_id: movement_id for seal_id, movement_id in rows}


FIX_COLUMNS: Final = (
    "device_id",
    "time",
    "record_id",
    "received_at",
    "protocol",
    "lat",
    "lon",
    "speed_kmh",
    "course",
    "valid",
    "black_box",
    "opened",
    "tampered",
    "armed",
    "low_battery",
    "battery_v",
    "movement_id",
    "attributes",
)
"""The columns of a fix row, in the order `insert_fixes` takes each row's values."""


class FixRows:
    """Fix rows to insert, kept as one list per column (what the PostgreSQL statement takes)."""

    __slots__ = FIX_COLUMNS

    def __init__(self) -> None:
        self.device_id: list[str] = []
        self.time: list[datetime] = []
        self.record_id: list[int] = []
        self.received_at: list[datetime] = []
        self.protocol: list[str] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.speed_kmh: list[float | None] = []
        self.course: list[int | None] = []
        self.valid: list[bool] = []
        self.black_box: list[bool] = []
        self.opened: list[bool | None] = []
        self.tampered: list[bool | None] = []
        self.armed: list[bool | None] = []
        self.low_battery: list[bool | None] = []
        self.battery_v: list[float | None] = []
        self.movement_id: list[int | None] = []
        self.attributes: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.device_id)

    def append(
        self,
        key: FixKey,
        received_at: datetime,
        protocol: str,
        fix: Fix,
        state: SealState,
        movement_id: int | None,
        attributes: dict[str, Any],
    ) -> None:
        """Add the row of one fix: its key, the fix, the seal state read from it, its movement."""
        self.device_id.append(key[0])
        self.time.append(key[1])
        self.record_id.append(key[2])
        self.received_at.append(received_at)
        self.protocol.append(protocol)
        self.lat.append(fix.lat)
        self.lon.append(fix.lon)
        self.speed_kmh.append(fix.speed_kmh)
        self.course.append(fix.course)
        self.valid.append(fix.valid)
        self.black_box.append(fix.from_black_box)
        self.opened.append(state.opened)
        self.tampered.append(state.tampered)
        self.armed.append(state.armed)
        self.low_battery.append(state.low_battery)
        self.battery_v.append(state.battery_v)
        self.movement_id.append(movement_id)
        self.attributes.append(attributes)

    def columns(self) -> list[list[Any]]:
        """The columns in `FIX_COLUMNS` order."""
        return [getattr(self, column) for column in FIX_COLUMNS]

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as dictionaries by column name."""
        return [dict(zip(FIX_COLUMNS, row, strict=True)) for row in zip(*self.columns(), strict=True)]


_PG_SEAL_MOVEMENTS: Final = "SELECT id, movement_id FROM seals WHERE id = ANY($1::int8[])"
# The rows as one array per column, in FIX_COLUMNS order: one statement and one round trip per batch.
_PG_INSERT_FIXES: Final = """
INSERT INTO fixes (device_id, "time", record_id, received_at, protocol, lat, lon, speed_kmh, course, valid,
                   black_box, opened, tampered, armed, low_battery, battery_v, movement_id, attributes)
SELECT * FROM unnest($1::varchar[], $2::timestamptz[], $3::int8[], $4::timestamptz[], $5::varchar[],
                     $6::float8[], $7::float8[], $8::float8[], $9::int4[], $10::bool[], $11::bool[],
                     $12::bool[], $13::bool[], $14::bool[], $15::bool[], $16::float8[], $17::int8[],
                     $18::json[])
ON CONFLICT (device_id, "time", record_id) DO NOTHING
RETURNING device_id, "time", record_id
"""


async def _postgres_driver(session: AsyncSession) -> Any | None:
    """The asyncpg connection under the session's transaction on PostgreSQL (None on SQLite).

    The hottest statements go to the driver directly: SQLAlchemy's per-parameter processing costs more
    than the database's work for a row of a fix. The session's transaction is begun first, so whatever
    the driver runs commits or rolls back with the session.
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return None
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:  # pragma: no cover - a pooled connection always has its driver
        return None
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter begins its transaction lazily, at the first statement it runs.
        await connection.exec_driver_sql("SELECT 1")
    return driver


async def insert_fixes(session: AsyncSession, rows: FixRows) -> set[FixKey]:
    """Insert fix rows, skipping any whose key is already stored; give the keys that were new.

    INSERT ... ON CONFLICT DO NOTHING RETURNING the key. On PostgreSQL one statement for the whole batch:
    the rows go as one array per column (`unnest`), encoded by the driver. On SQLite an executemany from
    one cached statement, which SQLAlchemy sends as multi-row INSERTs ("insertmanyvalues").
    """
    new: set[FixKey] = set()
    if not len(rows):
        return new
    driver = await _postgres_driver(session)
    if driver is not None:
        columns = rows.columns()
        columns[-1] = [_json(attributes) for attributes in columns[-1]]
        records = await driver.fetch(_PG_INSERT_FIXES, *columns)
        return set(map(tuple, records))
    table = TelemetryFix.__table__
    stmt = (
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=["device_id", "time", "record_id"])
        .returning(table.c.device_id, table.c.time, table.c.record_id)
    )
    result = await session.execute(stmt, rows.dicts())
    new.update((device_id, time, record_id) for device_id, time, record_id in result)
    return new


async def count_fixes(session: AsyncSession, device_id: str | None = None) -> int:
    """How many fixes are stored (of one device)."""
    query = select(func.count()).select_from(TelemetryFix)
    if device_id is not None:
        query = query.where(TelemetryFix.device_id == device_id)
    return int((await session.execute(query)).scalar_one())


async def fixes_of_device(
    session: AsyncSession, device_id: str, since: datetime | None = None, until: datetime | None = None
) -> list[TelemetryFix]:
    """A device's stored fixes in time order (then record number), optionally in [since, until)."""
    query = select(TelemetryFix).where(TelemetryFix.device_id == device_id)
    if since is not None:
        query = query.where(TelemetryFix.time >= since)
    if until is not None:
        query = query.where(TelemetryFix.time < until)
    query = query.order_by(TelemetryFix.time, TelemetryFix.record_id)
    return list((await session.execute(query)).scalars())


async def stored_keys(session: AsyncSession, keys: Iterable[FixKey]) -> set[FixKey]:
    """Which of these keys are stored (read per device over the time span asked, matched here)."""
    by_device: dict[str, set[FixKey]] = {}
    for key in keys:
        by_device.setdefault(key[0], set()).add(key)
    found: set[FixKey] = set()
    for device_id, wanted in by_device.items():
        times = [key[1] for key in wanted]
        query = select(TelemetryFix.time, TelemetryFix.record_id).where(
            TelemetryFix.device_id == device_id,
            TelemetryFix.time >= min(times),
            TelemetryFix.time <= max(times),
        )
        rows = await session.execute(query)
        found.update(key for time, record_id in rows if (key := (device_id, time, record_id)) in wanted)
    return found


def partition_name(day: date) -> str:
    """The name of the PostgreSQL partition of `fixes` that holds one UTC day."""
    return f"fixes_p{day:%Y%m%d}"


async def ensure_partitions(session: AsyncSession, first_day: date, days: int = 3) -> list[str]:
    """Create the daily partitions of `fixes` for `first_day` and the `days - 1` days after it, where
    missing; give the names created. PostgreSQL only (a no-op on SQLite). The caller commits.

    Rows of those days already in the DEFAULT partition (a device clock running ahead) are moved into the
    new partition in the same transaction, since PostgreSQL refuses to create a partition whose rows sit
    in DEFAULT. An advisory lock keeps two processes (`tamga serve`, `tamga ingest`) from racing.
    """
    if session.get_bind().dialect.name != "postgresql":
        return []
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK})
    existing = set(
        (
            await session.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'fixes'"
                )
            )
        ).scalars()
    )
    created: list[str] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        name = partition_name(day)
        if name in existing:
            continue
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        bounds = {"start": start, "end": start + timedelta(days=1)}
        await session.execute(
            text(
                "CREATE TEMPORARY TABLE fixes_moving ON COMMIT DROP AS "
                'SELECT * FROM fixes_default WHERE "time" >= :start AND "time" < :end'
            ),
            bounds,
        )
        await session.execute(
            text('DELETE FROM fixes_default WHERE "time" >= :start AND "time" < :end'), bounds
        )
        # DDL takes no bind parameters; the bounds are formatted from a date, never from input.
        await session.execute(
            text(
                f"CREATE TABLE {name} PARTITION OF fixes FOR VALUES FROM "
                f"('{bounds['start'].isoformat()}') TO ('{bounds['end'].isoformat()}')"
            )
        )
        await session.execute(text("INSERT INTO fixes SELECT * FROM fixes_moving"))
        await session.execute(text("DROP TABLE fixes_moving"))
        created.append(name)
    return created
