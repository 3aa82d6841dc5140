"""Queries of the ingest pillar: the seals devices authenticate as, and the append-only `fixes` table."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.ingest.fix import Fix, FixBlock, block_entries
from tamga.ingest.profiles import SealState
from tamga.kit.db import driver
from tamga.kit.upsert import insert_for
from tamga.models import Seal, TelemetryFix

FixKey = tuple[str, int, int]
"""The device's own identity of a fix: (device_id, time in microseconds since the Unix epoch, record_id)."""
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
    raw = await driver(session)
    if raw is not None:
        # One parameter, whatever the number of seals: no IN list to render and no plan per length.
        records = await raw.fetch(_PG_SEAL_MOVEMENTS, wanted)
        return {int(seal_id): movement_id for seal_id, movement_id in records}
    rows = await session.execute(select(Seal.id, Seal.movement_id).where(Seal.id.in_(wanted)))
    return {seal_id: movement_id for seal_id, movement_id in rows}


ROW_COLUMNS: Final = (
    "segment",
    "time_us",
    "record_id",
    "lat",
    "lon",
    "speed_kmh",
    "course",
    "valid",
    "black_box",
    "attributes",
)
"""The columns `FixRows` keeps per row: the row's segment, its `time` as microseconds since the Unix epoch,
its `attributes` as JSON text, and the rest as the table has them."""
SEGMENT_COLUMNS: Final = (
    "device_id",
    "protocol",
    "movement_id",
    "opened",
    "tampered",
    "armed",
    "low_battery",
    "battery_v",
)
"""The columns `FixRows` keeps per segment: what many rows share (a device's, a seal state's)."""

UNIX_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = timedelta(microseconds=1)

Segment = tuple[str, str, int | None, SealState]
"""The values rows share: device id, protocol, movement, seal state."""


def time_us(moment: datetime) -> int:
    """An aware moment as whole microseconds since the Unix epoch (a fix's time in `FixRows`)."""
    return (moment - UNIX_EPOCH) // MICROSECOND


class FixRows:
    """Fix rows to insert, kept as one list per column (what the PostgreSQL statement takes). What rows
    share (device, protocol, movement, seal state) is kept once, as a segment each row points to; the
    receipt time is one value for all the rows of a statement."""

    __slots__ = (*ROW_COLUMNS, *SEGMENT_COLUMNS, "_segments")

    def __init__(self) -> None:
        self.segment: list[int] = []  # 1-based, as PostgreSQL numbers the segments
        self.time_us: list[int] = []
        self.record_id: list[int] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.speed_kmh: list[float | None] = []
        self.course: list[int | None] = []
        self.valid: list[bool] = []
        self.black_box: list[bool] = []
        self.attributes: list[str] = []
        self.device_id: list[str] = []
        self.protocol: list[str] = []
        self.movement_id: list[int | None] = []
        self.opened: list[bool | None] = []
        self.tampered: list[bool | None] = []
        self.armed: list[bool | None] = []
        self.low_battery: list[bool | None] = []
        self.battery_v: list[float | None] = []
        self._segments: dict[Segment, int] = {}

    def __len__(self) -> int:
        return len(self.time_us)

    def segment_of(self, device_id: str, protocol: str, movement_id: int | None, state: SealState) -> int:
        """The number of the segment of these shared values (added if new)."""
        key = (device_id, protocol, movement_id, state)
        number = self._segments.get(key)
        if number is None:
            number = self._segments[key] = len(self._segments) + 1
            self.device_id.append(device_id)
            self.protocol.append(protocol)
            self.movement_id.append(movement_id)
            self.opened.append(state.opened)
            self.tampered.append(state.tampered)
            self.armed.append(state.armed)
            self.low_battery.append(state.low_battery)
            self.battery_v.append(state.battery_v)
        return number

    def append(
        self,
        key: FixKey,
        protocol: str,
        fix: Fix,
        state: SealState,
        movement_id: int | None,
        attributes: str,
    ) -> None:
        """Add the row of one fix: its key (the time in microseconds), the fix, the seal state read from
        it, its movement, its attributes as JSON text."""
        self.segment.append(self.segment_of(key[0], protocol, movement_id, state))
        self.time_us.append(key[1])
        self.record_id.append(key[2])
        self.lat.append(fix.lat)
        self.lon.append(fix.lon)
        self.speed_kmh.append(fix.speed_kmh)
        self.course.append(fix.course)
        self.valid.append(fix.valid)
        self.black_box.append(fix.from_black_box)
        self.attributes.append(attributes)

    def extend(
        self,
        block: FixBlock,
        rows: Sequence[int] | None,
        protocol: str,
        states: Mapping[int, SealState],
        movement_id: int | None,
    ) -> None:
        """Add the rows of a block's entries `rows` (all of them, in order, when None), the seal state of
        each read from its inputs (`states`, by inputs)."""

        inputs = block_entries(block.inputs, rows)
        segments = {
            value: self.segment_of(block.device_id, protocol, movement_id, state)
            for value, state in states.items()
        }
        self.segment.extend(map(segments.__getitem__, inputs))
        self.time_us.extend(block_entries(block.time_us, rows))
        self.record_id.extend(block_entries(block.record_id, rows))
        self.lat.extend(block_entries(block.lat, rows))
        self.lon.extend(block_entries(block.lon, rows))
        self.speed_kmh.extend(block_entries(block.speed_kmh, rows))
        self.course.extend(block_entries(block.course, rows))
        self.valid.extend(block_entries(block.valid, rows))
        self.black_box.extend(block_entries(block.black_box, rows))
        self.attributes.extend(block_entries(block.attributes, rows))

    def devices(self) -> list[str]:
        """Each row's device id."""
        devices = self.device_id
        return [devices[segment - 1] for segment in self.segment]

    def keys(self) -> list[tuple[str, datetime, int]]:
        """Each row's key with its time as a datetime."""
        return [
            (device_id, UNIX_EPOCH + us * MICROSECOND, record_id)
            for device_id, us, record_id in zip(self.devices(), self.time_us, self.record_id, strict=True)
        ]

    def dicts(self, received_at: datetime) -> list[dict[str, Any]]:
        """The rows as dictionaries by the table's column names."""
        out: list[dict[str, Any]] = []
        segments = list(zip(*(getattr(self, column) for column in SEGMENT_COLUMNS), strict=True))
        for row in zip(*(getattr(self, column) for column in ROW_COLUMNS), strict=True):
            item = dict(zip(ROW_COLUMNS, row, strict=True))
            item.update(zip(SEGMENT_COLUMNS, segments[item.pop("segment") - 1], strict=True))
            item["time"] = UNIX_EPOCH + item.pop("time_us") * MICROSECOND
            item["received_at"] = received_at
            item["attributes"] = json.loads(item["attributes"])
            out.append(item)
        return out


_PG_SEAL_MOVEMENTS: Final = "SELECT id, movement_id FROM seals WHERE id = ANY($1::int8[])"
# The rows go by binary COPY into a temporary table of the session (created where missing, emptied at
# every commit), then into `fixes`, consumed by the INSERT itself (DELETE ... RETURNING: a second call in
# the same transaction finds the table empty) with their segments (one array per column in SEGMENT_COLUMNS order) and
# the receipt time: the driver encodes a row of COPY several times faster than the elements of arrays.
# Times are microseconds since the Unix epoch, which PostgreSQL turns into timestamps exactly; the
# INSERT's status gives how many rows were new.
_PG_INPUT_TABLE: Final = "fix_input"
_PG_CREATE_INPUT: Final = """
CREATE TEMPORARY TABLE IF NOT EXISTS fix_input (
    segment int4, time_us int8, record_id int8, lat float8, lon float8, speed_kmh float8, course int4,
    valid bool, black_box bool, attributes text
) ON COMMIT DELETE ROWS
"""
_PG_INSERT_FIXES: Final = """
WITH u AS (DELETE FROM pg_temp.fix_input RETURNING *)
INSERT INTO fixes (device_id, "time", record_id, received_at, protocol, lat, lon, speed_kmh, course, valid,
                   black_box, opened, tampered, armed, low_battery, battery_v, movement_id, attributes)
SELECT s.device_id, 'epoch'::timestamptz + u.time_us * interval '1 microsecond', u.record_id,
       $9::timestamptz, s.protocol, u.lat, u.lon, u.speed_kmh, u.course, u.valid, u.black_box, s.opened,
       s.tampered, s.armed, s.low_battery, s.battery_v, s.movement_id, u.attributes::json
FROM u
JOIN unnest($1::varchar[], $2::varchar[], $3::int8[], $4::bool[], $5::bool[], $6::bool[], $7::bool[],
            $8::float8[]) WITH ORDINALITY
     AS s(device_id, protocol, movement_id, opened, tampered, armed, low_battery, battery_v, segment)
  ON s.segment = u.segment
ON CONFLICT (device_id, "time", record_id) DO NOTHING
"""
# When some rows were not new: which were inserted by this transaction (the row's xmin) and by which of
# its commands (cmin), by position.
_PG_INSERTED_HERE: Final = """
SELECT u.position - 1, f.xmin = pg_current_xact_id()::xid, f.cmin::text::int8
FROM unnest($1::varchar[], $2::int8[], $3::int8[]) WITH ORDINALITY AS u(device_id, time_us, record_id, position)
JOIN fixes f ON f.device_id = u.device_id AND f.record_id = u.record_id
            AND f."time" = 'epoch'::timestamptz + u.time_us * interval '1 microsecond'
"""


async def insert_fixes(session: AsyncSession, rows: FixRows, received_at: datetime) -> set[int]:
    """Insert fix rows received at `received_at`, skipping any whose key is already stored; give the
    positions of the rows skipped (the keys of `rows` must differ).

    INSERT ... ON CONFLICT DO NOTHING. On PostgreSQL one statement for the whole batch, from the rows
    copied into a temporary table (binary COPY) that the INSERT empties as it reads it, and nothing
    comes back but how many were new; only when some were not does a second statement find which (the
    rows whose xmin is this transaction and whose cmin is its latest command: so the caller's
    transaction must not be inside a savepoint, and it may store several times). On SQLite an
    executemany from one cached statement, which SQLAlchemy sends as multi-row INSERTs
    ("insertmanyvalues"), RETURNING the keys inserted.
    """
    if not len(rows):
        return set()
    raw = await driver(session)
    if raw is not None:
        # Created in this transaction if missing (and gone again if it rolls back): one round trip.
        await raw.execute(_PG_CREATE_INPUT)
        await raw.copy_records_to_table(
            _PG_INPUT_TABLE,
            schema_name="pg_temp",
            columns=ROW_COLUMNS,
            records=zip(*(getattr(rows, column) for column in ROW_COLUMNS), strict=True),
        )
        segments = (getattr(rows, column) for column in SEGMENT_COLUMNS)
        status = await raw.execute(_PG_INSERT_FIXES, *segments, received_at)
        inserted = int(status.rsplit(" ", 1)[1])
        if inserted == len(rows):
            return set()
        if inserted == 0:
            return set(range(len(rows)))
        # Some keys were stored before: the new rows are those this transaction wrote with its latest
        # command (an earlier store of the same transaction wrote its rows with an earlier one).
        records = await raw.fetch(_PG_INSERTED_HERE, rows.devices(), rows.time_us, rows.record_id)
        ours = [(position, command) for position, this_transaction, command in records if this_transaction]
        latest = max(command for _, command in ours)
        here = {position for position, command in ours if command == latest}
        if len(here) != inserted:  # pragma: no cover - only inside a savepoint, which no caller opens
            raise RuntimeError("cannot tell the new fixes apart: insert_fixes ran inside a savepoint")
        return set(range(len(rows))) - here
    table = TelemetryFix.__table__
    stmt = (
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=["device_id", "time", "record_id"])
        .returning(table.c.device_id, table.c.time, table.c.record_id)
    )
    result = await session.execute(stmt, rows.dicts(received_at))
    new = {(device_id, time, record_id) for device_id, time, record_id in result}
    return {i for i, key in enumerate(rows.keys()) if key not in new}


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


async def stored_keys(
    session: AsyncSession, keys: Iterable[tuple[str, datetime, int]]
) -> set[tuple[str, datetime, int]]:
    """Which of these keys are stored (read per device over the time span asked, matched here)."""
    by_device: dict[str, set[tuple[str, datetime, int]]] = {}
    for key in keys:
        by_device.setdefault(key[0], set()).add(key)
    found: set[tuple[str, datetime, int]] = set()
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
