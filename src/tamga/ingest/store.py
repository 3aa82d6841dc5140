"""Queries of the ingest pillar: the seals devices authenticate as, and the append-only `fixes` table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.kit.upsert import insert_for
from tamga.models import Seal, TelemetryFix

FixKey = tuple[str, datetime, int]
"""The device's own identity of a fix: (device_id, time, record_id)."""

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
    rows = await session.execute(select(Seal.id, Seal.movement_id).where(Seal.id.in_(wanted)))
    return {seal_id: movement_id for seal_id, movement_id in rows}


async def insert_fixes(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> set[FixKey]:
    """Insert fix rows, skipping any whose key is already stored; give the keys that were new.

    INSERT ... ON CONFLICT DO NOTHING RETURNING the key, many rows per statement: a retransmission costs
    a round trip per batch of rows and writes nothing.
    """
    table = TelemetryFix.__table__
    stmt = (
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=["device_id", "time", "record_id"])
        .returning(table.c.device_id, table.c.time, table.c.record_id)
    )
    new: set[FixKey] = set()
    if not rows:
        return new
    # An executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues") from
    # one cached statement, where building a VALUES list per batch would compile 19 parameters a row.
    result = await session.execute(stmt, list(rows))
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
