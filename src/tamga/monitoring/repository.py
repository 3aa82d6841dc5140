"""Every query of monitoring: active movements, their seals, alarms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from tamga.auth.domain import Principal
from tamga.kit.upsert import insert_for
from tamga.models import Alarm, MonitoringProgress, Movement, MovementEvent, MovementItem, Seal, TelemetryFix
from tamga.transit.repository import visible_to

# The predicate of the partial unique index on alarms (movement, rule), as the model declares it: a
# conflict target must repeat it literally (PostgreSQL does not match a bound parameter to it).
OPEN_ALARM_PREDICATE = "status != 'resolved'"
_ALARMS = cast(Table, Alarm.__table__)
# The states in which a movement is on the road and so under monitoring.
MONITORED_STATUSES = ("released", "en_route", "enquiry")


async def movements_by_ids(session: AsyncSession, ids: Iterable[int]) -> Sequence[Movement]:
    """Give the movements with these ids (any state)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return (await session.execute(select(Movement).where(Movement.id.in_(wanted)))).scalars().all()


async def monitored_movements(session: AsyncSession) -> Sequence[Movement]:
    """Give every movement on the road (released, en route, under enquiry)."""
    stmt = select(Movement).where(Movement.status.in_(MONITORED_STATUSES)).order_by(Movement.id)
    return (await session.execute(stmt)).scalars().all()


async def seals_of(session: AsyncSession, movement_ids: Iterable[int]) -> Sequence[Seal]:
    """Give the seals arming these movements, by id."""
    wanted = sorted(set(movement_ids))
    if not wanted:
        return []
    stmt = select(Seal).where(Seal.movement_id.in_(wanted)).order_by(Seal.id)
    return (await session.execute(stmt)).scalars().all()


async def hs_codes_of(session: AsyncSession, movement_ids: Iterable[int]) -> dict[int, list[str]]:
    """Give the goods codes of these movements' items, by movement id."""
    wanted = sorted(set(movement_ids))
    codes: dict[int, list[str]] = {m: [] for m in wanted}
    if not wanted:
        return codes
    stmt = (
        select(MovementItem.movement_id, MovementItem.hs_code)
        .where(MovementItem.movement_id.in_(wanted))
        .order_by(MovementItem.movement_id, MovementItem.number)
    )
    for movement_id, hs_code in (await session.execute(stmt)).all():
        codes[movement_id].append(hs_code)
    return codes


async def recent_fixes(
    session: AsyncSession,
    movement_ids: Iterable[int],
    since: datetime,
    per_movement: int,
    received_before: datetime | None = None,
) -> Sequence[TelemetryFix]:
    """Give each movement's fixes taken since `since` (and received before `received_before`), at most
    its newest `per_movement`, oldest first."""
    wanted = sorted(set(movement_ids))
    if not wanted:
        return []
    newest = (
        select(
            TelemetryFix,
            func.row_number()
            .over(partition_by=TelemetryFix.movement_id, order_by=TelemetryFix.time.desc())
            .label("rank"),
        )
        .where(
            TelemetryFix.movement_id.in_(wanted),
            TelemetryFix.time >= since,
            TelemetryFix.received_at < received_before if received_before is not None else true(),
        )
        .subquery()
    )
    stmt = (
        select(TelemetryFix)
        .join(
            newest,
            (TelemetryFix.device_id == newest.c.device_id)
            & (TelemetryFix.time == newest.c.time)
            & (TelemetryFix.record_id == newest.c.record_id),
        )
        .where(newest.c.rank <= per_movement)
        .order_by(TelemetryFix.movement_id, TelemetryFix.time, TelemetryFix.record_id)
    )
    return (await session.execute(stmt)).scalars().all()


async def progress(session: AsyncSession, consumer: str) -> datetime | None:
    """Give the receipt time a consumer has taken the stored fixes through (None: it never recorded one)."""
    stmt = select(MonitoringProgress.received_through).where(MonitoringProgress.consumer == consumer)
    return (await session.execute(stmt)).scalar_one_or_none()


async def bus_position(session: AsyncSession, consumer: str) -> tuple[str, int] | None:
    """Give the stream and sequence a consumer of the NATS bus has taken messages through (None: none)."""
    stmt = select(MonitoringProgress.bus_stream, MonitoringProgress.bus_sequence).where(
        MonitoringProgress.consumer == consumer
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None or row.bus_stream is None or row.bus_sequence is None:
        return None
    return row.bus_stream, row.bus_sequence


async def advance(
    session: AsyncSession,
    consumer: str,
    through: datetime,
    now: datetime,
    *,
    bus_position: tuple[str, int] | None = None,
) -> None:
    """Record that a consumer has taken the stored fixes through `through` (it never moves back), and,
    from the NATS bus, the stream position it has taken messages through (as given: a consumer takes
    its stream in order, and a new stream starts its sequence again)."""
    stream, sequence = bus_position if bus_position is not None else (None, None)
    stmt = insert_for(session, MonitoringProgress).values(
        consumer=consumer, received_through=through, updated_at=now, bus_stream=stream, bus_sequence=sequence
    )
    # GREATEST on PostgreSQL; SQLite's two-argument max() compares the stored ISO texts alike
    larger = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
    changes: dict[str, Any] = {
        "received_through": larger(MonitoringProgress.received_through, stmt.excluded.received_through),
        "updated_at": stmt.excluded.updated_at,
    }
    if bus_position is not None:
        changes.update(bus_stream=stmt.excluded.bus_stream, bus_sequence=stmt.excluded.bus_sequence)
    stmt = stmt.on_conflict_do_update(index_elements=[MonitoringProgress.consumer], set_=changes)
    await session.execute(stmt)


async def fixes_received(
    session: AsyncSession, movement_ids: Iterable[int], since: datetime, until: datetime
) -> Sequence[TelemetryFix]:
    """Give these movements' fixes received from `since` to `until` (both included), in receipt order."""
    wanted = sorted(set(movement_ids))
    if not wanted:
        return []
    stmt = (
        select(TelemetryFix)
        .where(
            TelemetryFix.movement_id.in_(wanted),
            TelemetryFix.received_at >= since,
            TelemetryFix.received_at <= until,
        )
        .order_by(
            TelemetryFix.received_at, TelemetryFix.movement_id, TelemetryFix.time, TelemetryFix.record_id
        )
    )
    return (await session.execute(stmt)).scalars().all()


async def recorded_outcomes(
    session: AsyncSession, movement_ids: Iterable[int], since: datetime, actor: str
) -> tuple[set[tuple[int, str, datetime]], set[tuple[int, str, datetime, str | None, str | None]]]:
    """Give what monitoring already stored of these movements from `since` on: the alarms it opened, as
    (movement, rule, opened at), and what it put on the timeline, as (movement, kind, at, rule, action)."""
    wanted = sorted(set(movement_ids))
    if not wanted:
        return set(), set()
    alarms = select(Alarm.movement_id, Alarm.rule, Alarm.opened_at).where(
        Alarm.movement_id.in_(wanted), Alarm.opened_at >= since
    )
    events = select(
        MovementEvent.movement_id, MovementEvent.kind, MovementEvent.at, MovementEvent.details
    ).where(MovementEvent.movement_id.in_(wanted), MovementEvent.at >= since, MovementEvent.actor == actor)
    opened = {(m, rule, at) for m, rule, at in (await session.execute(alarms)).all()}
    found = set()
    for m, kind, at, details in (await session.execute(events)).all():
        found.add((m, kind, at, (details or {}).get("rule"), (details or {}).get("action")))
    return opened, found


async def open_alarm(session: AsyncSession, **fields: Any) -> Alarm | None:
    """Insert an open alarm, unless one of the same movement and rule is open already (then None).

    One statement, ON CONFLICT DO NOTHING on the partial unique index, so that an opening by another
    process meanwhile neither fails the caller's transaction nor needs a savepoint (which cost two round
    trips an alarm). A Core statement (cached; the ORM's INSERT ... RETURNING an entity was slower than a
    flush), and the alarm it gives is in the session, as stored."""
    stmt = (
        insert_for(session, _ALARMS)
        .values(**fields)
        .on_conflict_do_nothing(
            index_elements=[_ALARMS.c.movement_id, _ALARMS.c.rule], index_where=text(OPEN_ALARM_PREDICATE)
        )
        .returning(_ALARMS.c.id)
    )
    alarm_id = (await session.execute(stmt)).scalar_one_or_none()
    if alarm_id is None:
        return None
    handling = dict.fromkeys(("acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "comment"))
    alarm = Alarm(id=alarm_id, **handling, **fields)
    make_transient_to_detached(alarm)  # stored: the session tracks its changes, and inserts nothing
    session.add(alarm)
    return alarm


async def open_alarms(session: AsyncSession, movement_ids: Iterable[int]) -> Sequence[Alarm]:
    """Give the alarms not yet resolved of these movements."""
    wanted = sorted(set(movement_ids))
    if not wanted:
        return []
    stmt = select(Alarm).where(Alarm.movement_id.in_(wanted), Alarm.status != "resolved").order_by(Alarm.id)
    return (await session.execute(stmt)).scalars().all()


async def alarm(session: AsyncSession, alarm_id: int, *, lock: bool = False) -> Alarm | None:
    """Give an alarm by id; `lock` holds its row until commit."""
    stmt = select(Alarm).where(Alarm.id == alarm_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_alarms(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    movement_id: int | None,
    severity: str | None,
    after: int | None,
    limit: int,
) -> Sequence[Alarm]:
    """Give the alarms of the movements the principal may see, oldest first, a page at a time."""
    joined = select(Alarm).join(Movement, Movement.id == Alarm.movement_id).order_by(Alarm.id).limit(limit)
    stmt = visible_to(joined, principal)
    if stmt is None:
        return []
    if status is not None:
        stmt = stmt.where(Alarm.status == status)
    if movement_id is not None:
        stmt = stmt.where(Alarm.movement_id == movement_id)
    if severity is not None:
        stmt = stmt.where(Alarm.severity == severity)
    if after is not None:
        stmt = stmt.where(Alarm.id > after)
    return (await session.execute(stmt)).scalars().all()


async def alarm_counts(session: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
    """Give the alarms not yet resolved by rule, and every alarm raised by rule."""
    open_ = select(Alarm.rule, func.count()).where(Alarm.status != "resolved").group_by(Alarm.rule)
    raised = select(Alarm.rule, func.count()).group_by(Alarm.rule)
    open_by_rule = {str(rule): int(n) for rule, n in (await session.execute(open_)).all()}
    raised_by_rule = {str(rule): int(n) for rule, n in (await session.execute(raised)).all()}
    return open_by_rule, raised_by_rule
