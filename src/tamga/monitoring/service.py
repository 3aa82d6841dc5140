"""Monitoring's use cases: plans of released movements, the batch consumer, the time tick, alarm handling,
and the monitoring settings an operator gives a movement.

State: each process keeps a `MovementState` per monitored movement in memory (`Monitor.states`), and the
plans it built from the movements (`Monitor.plans`, rebuilt when a movement's row version changes: a
release, a crossing, new monitoring settings). When the consumer starts (`run_monitor`), it rebuilds each
monitored movement's state by replaying its stored fixes of the last two hours through the engine without
persisting what they decide (that was done before the restart); the rules whose alarms are still open in
the database are added, so a restart neither opens an alarm twice nor loses a deviation or a stop in
progress. A batch's outcome is stored with how far the consumer got (`MonitoringProgress`: the newest
receipt time it took; at most once a second when the batch stored nothing); a consumer that starts after
a crash runs the stored fixes received after that (less `SETTLE_MARGIN`) through the engine and stores
what they decide, leaving out what was stored before the crash, so fixes confirmed to their devices but
lost with the in-process bus are monitored. On the NATS JetStream bus (`run_monitor_nats`) the consumer
also stores the stream position of each batch that stored something, and starts after it.
A plan's thresholds are its goods category's (`domain.goods_category` of the items' codes, or the
operator's category), then the operator's overrides (`PUT /movements/{ref}/monitoring`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from itertools import chain, repeat
from operator import attrgetter
from typing import Any, Final

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import service as audit
from tamga.auth.domain import Principal, Role
from tamga.config import Settings
from tamga.ingest.bus import FixBus, StoredBlock, StoredFix, StoredFixes
from tamga.ingest.fix import Fix, block_entries
from tamga.ingest.nats_bus import NatsFixConsumer
from tamga.ingest.profiles import DeviceProfile, SealState, device_profile
from tamga.ingest.service import profile_of
from tamga.kit.clock import utcnow
from tamga.kit.db import Database, commit
from tamga.kit.errors import FieldError, Forbidden, IllegalTransition, NotFound, ValidationFailed
from tamga.models import Alarm, Movement, MovementEvent, Seal, TelemetryFix
from tamga.monitoring import borders, engine, engine_states, repository, schemas
from tamga.monitoring.corridor import initial_state, microseconds
from tamga.monitoring.domain import (
    DURATION_THRESHOLDS,
    THRESHOLD_NAMES,
    AlarmEvent,
    AuthorisedPlace,
    BatchResult,
    EventKind,
    MonitoringSettings,
    MovementPlan,
    MovementState,
    Rule,
    effective_thresholds,
    goods_category,
    settings_problems,
)
from tamga.transit.policy import MovementScope, can_see
from tamga.transit.service import get_visible as get_visible_movement
from tamga.transit.service import scope_of

log = logging.getLogger(__name__)

SYSTEM_ACTOR: Final = "system:monitoring"
# A customs office on the itinerary is an authorised place within this distance of its coordinates.
OFFICE_RADIUS_M: Final = 1000.0
REST_AREA_RADIUS_M: Final = 300.0  # a declared rest area is a lay-by or a truck park, not a town
FALLBACK_PROFILE: Final = "generic-egts-seal"
HANDLERS: Final = frozenset({Role.CUSTOMS_OFFICER, Role.MONITORING_OPERATOR, Role.ADMINISTRATOR})
# What a restarted consumer replays of each movement to rebuild its state: long enough for every dwell
# (the longest by default is the 30-minute stop) and the smoothed speed, short enough to start quickly.
REBUILD_WINDOW: Final = timedelta(hours=2)
REBUILD_MAX_FIXES: Final = 720
# The consumer: a batch of at least this many fixes runs the engine in a thread (how long a batch waits
# for company is `TAMGA_MONITORING_BATCH_MAX_WAIT_S`).
OFF_LOOP_MIN_FIXES: Final = 256
WARM_UP_MOVEMENT: Final = -1
# The name the consumer of the fix bus records its progress under (`MonitoringProgress`).
CONSUMER: Final = "fix-bus"
# A fix's receipt time is taken before it is stored and put on the bus, and stores run concurrently (the
# HTTP channel, the writer's retries), so the bus can hand out a fix after a newer one. A starting consumer
# takes again what was received this long before its recorded progress: longer than a store can take
# (a session waits at most 30 s for a connection). What it finds was stored already is left out.
SETTLE_MARGIN: Final = timedelta(minutes=2)
PROGRESS_EVERY_S: Final = 1.0


# --- plans ----------------------------------------------------------------------------------------


def plan_of(
    movement: Movement,
    profile: DeviceProfile,
    *,
    corridor_width_m: float = 500.0,
    hs_codes: Iterable[str] = (),
) -> MovementPlan | None:
    """Give the plan of a released movement (None if it was never released or has no time limit).

    Its thresholds are its goods category's (the operator's choice, else the goods' own), then the
    operator's overrides; its corridor is the operator's width, else `corridor_width_m`."""
    if movement.released_at is None or movement.time_limit is None or not movement.itinerary:
        return None
    route = tuple((float(p["lat"]), float(p["lon"])) for p in movement.itinerary)
    places = tuple(
        AuthorisedPlace(
            float(p["lat"]),
            float(p["lon"]),
            OFFICE_RADIUS_M if p.get("office_code") else REST_AREA_RADIUS_M,
            str(p.get("name") or p["office_code"]),
        )
        for p in movement.itinerary
        if p.get("office_code") or p.get("rest_area")
    )
    settings = MonitoringSettings.from_document(movement.monitoring)
    _, thresholds = effective_thresholds(settings, goods_category(hs_codes))
    return MovementPlan(
        movement_id=movement.id,
        route=route,
        released_at=movement.released_at,
        time_limit=movement.time_limit,
        destination=route[-1],
        device_profile=profile,
        corridor_width_m=settings.corridor_width_m or corridor_width_m,
        places=places,
        thresholds=thresholds,
    )


def _profiles(seals: Iterable[Seal]) -> dict[int, DeviceProfile]:
    """Give each movement's device profile: its first seal's model, else the generic EGTS seal."""
    found: dict[int, DeviceProfile] = {}
    for seal in seals:
        if seal.movement_id is not None and seal.movement_id not in found:
            profile = profile_of(seal)
            if profile is not None:
                found[seal.movement_id] = profile
    return found


async def plans_of(
    session: AsyncSession, movements: Sequence[Movement], *, corridor_width_m: float = 500.0
) -> dict[int, MovementPlan]:
    """Give the plans of those of `movements` that were released with a time limit, by movement id."""
    ids = [m.id for m in movements]
    profiles = _profiles(await repository.seals_of(session, ids))
    codes = await repository.hs_codes_of(session, ids)
    plans: dict[int, MovementPlan] = {}
    for movement in movements:
        profile = profiles.get(movement.id) or device_profile(FALLBACK_PROFILE)
        plan = plan_of(
            movement, profile, corridor_width_m=corridor_width_m, hs_codes=codes.get(movement.id, ())
        )
        if plan is not None:
            plans[movement.id] = plan
    return plans


# --- the live feed --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """An alarm as it became, with the scope of its movement (who may see it)."""

    action: str
    alarm: schemas.Alarm
    scope: MovementScope


class AlarmHub:
    """The broadcast of alarm changes to the live streams (each filters by its caller).

    A change goes to this process's streams at once and, with a `relay` (PostgreSQL: `tasks.AlarmRelay`),
    to the other processes' through it."""

    def __init__(self, max_queued: int = 1000) -> None:
        self.max_queued = max_queued
        self.relay: Callable[[list[AlarmChange]], None] | None = None
        self._subscribers: set[asyncio.Queue[AlarmChange]] = set()

    def publish(self, changes: Iterable[AlarmChange]) -> None:
        """Hand committed changes to the live streams, this process's and (through the relay) the others'."""
        batch = list(changes)
        if not batch:
            return
        self.deliver(batch)
        if self.relay is not None:
            self.relay(batch)

    def deliver(self, changes: Iterable[AlarmChange]) -> None:
        """Hand changes to this process's subscribers; one that does not keep up loses the oldest."""
        for change in changes:
            for queue in self._subscribers:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(change)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[AlarmChange]]:
        """Give a queue of the changes published from now on, for as long as the context lasts."""
        queue: asyncio.Queue[AlarmChange] = asyncio.Queue(self.max_queued)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


def encode_change(change: AlarmChange, origin: str) -> str:
    """Give a change as the text another process's hub takes (`decode_change`), naming the process it
    comes from (`origin`)."""
    scope = {**asdict(change.scope), "countries": sorted(change.scope.countries)}
    body = {"origin": origin, "action": change.action, "alarm": change.alarm.model_dump(mode="json")}
    return json.dumps({**body, "scope": scope}, ensure_ascii=False, separators=(",", ":"))


def decode_change(text: str) -> AlarmChange:
    """Give the change `encode_change` wrote."""
    data = json.loads(text)
    scope = {**data["scope"], "countries": frozenset(data["scope"]["countries"])}
    return AlarmChange(data["action"], schemas.Alarm.model_validate(data["alarm"]), MovementScope(**scope))


async def alarm_change(session: AsyncSession, alarm_id: int, action: str) -> AlarmChange | None:
    """Give an alarm as it is now, as a change of `action` (None if it is gone)."""
    found = await repository.alarm(session, alarm_id)
    if found is None:
        return None
    movements = await repository.movements_by_ids(session, [found.movement_id])
    if not movements:
        return None
    return AlarmChange(action, alarm_view(found), scope_of(movements[0]))


def alarm_view(alarm: Alarm) -> schemas.Alarm:
    return schemas.Alarm.model_validate(alarm)


def _snapshot(alarm: Alarm) -> dict[str, Any]:
    return {"status": alarm.status, "rule": alarm.rule, "movement_id": alarm.movement_id}


def _timeline(
    session: AsyncSession, movement_id: int, kind: str, at: datetime, actor: str, details: dict[str, Any]
) -> None:
    session.add(
        MovementEvent(
            movement_id=movement_id, at=at, kind=kind, office_code=None, actor=actor, details=details
        )
    )


# --- the consumer ---------------------------------------------------------------------------------


@dataclass
class Monitor:
    """The engine's plans and states in this process, and what persists what it decides.

    `clock` gives the engine's `now` (a fix dated more than `FUTURE_TOLERANCE` after it is refused, the
    time rules run at it); tests and accelerated simulations give their own. `fixes_seen` counts the
    fixes taken from the bus (after their batch was persisted), `events_seen` what the engine decided.
    """

    corridor_width_m: float = 500.0
    hub: AlarmHub | None = None
    clock: Callable[[], datetime] = utcnow
    plans: dict[int, MovementPlan] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)
    # the states as columns (a read is a snapshot: a changed state is assigned back)
    states: MutableMapping[int, MovementState] = field(default_factory=engine_states.StateTable)
    failed_batches: int = 0
    fixes_seen: int = 0
    events_seen: int = 0
    rebuild_window: timedelta = REBUILD_WINDOW
    rebuild_max_fixes: int = REBUILD_MAX_FIXES
    # set once `rebuild` has run (or failed): from then on the bus is consumed
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # held while plans and states change: a batch's engine runs in a thread, the tick must wait for it
    _engine_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _progress_due: float = 0.0  # when a batch without outcome next records the progress (monotonic)

    async def _refresh(self, session: AsyncSession, movements: Sequence[Movement]) -> dict[int, Movement]:
        """Bring plans up to date for the monitored ones of `movements`; forget the others."""
        active = {m.id: m for m in movements if m.status in repository.MONITORED_STATUSES}
        for movement in movements:
            if movement.id not in active:
                self.forget(movement.id)
        stale = [m for m in active.values() if self.versions.get(m.id) != m.version]
        for movement_id in await self._update_plans(session, stale):
            active.pop(movement_id)
        await self._add_states(session, active)
        return active

    async def _refresh_ids(self, session: AsyncSession, ids: Iterable[int]) -> set[int]:
        """`_refresh` for the movements `ids`, reading only their status and version, and the whole row
        of those whose version changed (a batch's movements are nearly always known and unchanged);
        give the ids of those monitored."""
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        query = select(Movement.id, Movement.status, Movement.version).where(Movement.id.in_(wanted))
        current = {
            movement_id: (status, version) for movement_id, status, version in await session.execute(query)
        }
        active = {i for i, (status, _) in current.items() if status in repository.MONITORED_STATUSES}
        for movement_id in current.keys() - active:
            self.forget(movement_id)
        stale_ids = [i for i in active if self.versions.get(i) != current[i][1]]
        if stale_ids:
            movements = {m.id: m for m in await repository.movements_by_ids(session, stale_ids)}
            stale = []
            for movement_id in stale_ids:
                movement = movements.get(movement_id)
                if movement is None:
                    active.discard(movement_id)
                elif movement.status not in repository.MONITORED_STATUSES:
                    self.forget(movement_id)
                    active.discard(movement_id)
                else:
                    stale.append(movement)
            active -= await self._update_plans(session, stale)
        await self._add_states(session, active)
        return active

    async def _update_plans(self, session: AsyncSession, stale: Sequence[Movement]) -> set[int]:
        """Build the plans of `stale` movements anew; forget those that have none, and give their ids."""
        plans = await plans_of(session, stale, corridor_width_m=self.corridor_width_m) if stale else {}
        dropped: set[int] = set()
        for movement in stale:
            plan = plans.get(movement.id)
            if plan is None:
                self.forget(movement.id)
                dropped.add(movement.id)
                continue
            self.plans[movement.id] = plan
            self.versions[movement.id] = movement.version
        return dropped

    async def _add_states(self, session: AsyncSession, active: Iterable[int]) -> None:
        """Give a fresh state to the `active` movements that have none (their open alarms stay open)."""
        fresh = [i for i in active if i not in self.states]
        if fresh:
            open_rules: dict[int, set[Rule]] = {}
            for alarm in await repository.open_alarms(session, fresh):
                open_rules.setdefault(alarm.movement_id, set()).add(Rule(alarm.rule))
            for movement_id in fresh:
                state = initial_state(self.plans[movement_id])
                state.open_alarms |= open_rules.get(movement_id, set())
                self.states[movement_id] = state

    def forget(self, movement_id: int) -> None:
        """Drop what this process holds of a movement (off monitoring, or its state is in doubt)."""
        self.plans.pop(movement_id, None)
        self.versions.pop(movement_id, None)
        self.states.pop(movement_id, None)

    async def process(
        self,
        db: Database,
        batch: Sequence[StoredFix],
        now: datetime | None = None,
        *,
        bus_position: tuple[str, int] | None = None,
    ) -> int:
        """Run a batch of stored fixes through the engine and persist what it decided in one transaction;
        give the number of events. On failure the batch's movements restart from a fresh state.

        `bus_position` (the NATS bus) is the stream position of the batch's last message, stored with
        its outcome."""
        try:
            async with self._engine_lock:
                return await self._process(db, batch, now or self.clock(), bus_position)
        finally:
            self.fixes_seen += len(batch)

    async def catch_up_received(
        self, db: Database, since: datetime, until: datetime, movements: Iterable[int] | None = None
    ) -> int:
        """Run the stored fixes received from `since` to `until` (of `movements`, else of every monitored
        movement) through the engine and store what they decide less what is stored already; give how
        many were taken. For fixes that never reached the bus (a gap message)."""
        async with self._engine_lock:
            now = self.clock()
            async with db.session() as session:
                active = await self._refresh(session, await repository.monitored_movements(session))
                wanted = active.keys() if movements is None else active.keys() & set(movements)
                rows = await repository.fixes_received(session, wanted, since, until)
            if rows:
                await self._catch_up(db, rows, now)
            return len(rows)

    async def rebuild(self, db: Database, received_before: datetime | None = None) -> int:
        """Rebuild the state of every monitored movement from its stored fixes of the last
        `rebuild_window` (at most its newest `rebuild_max_fixes`) received before `received_before`;
        give how many fixes were replayed.

        `received_before` is when the oldest fix still on the bus was received (or now): what was stored
        before it was taken by the previous consumer, or by an earlier process; what was stored after it
        is still on the bus, and this consumer takes it from there and persists what it finds. The replay
        runs the engine from a blank state and keeps the state it ends in: how long the truck has been off
        the corridor or stopped, where it was, its country, its recent speed. What it would decide is not
        persisted (it was, before the restart); the rules it leaves open, with those whose alarms are
        still open in the database, are the ones the engine will not open again."""
        async with self._engine_lock:
            return await self._rebuild(db, self.clock(), received_before)

    async def _rebuild(self, db: Database, now: datetime, received_before: datetime | None) -> int:
        async with db.session() as session:
            active = await self._refresh(session, await repository.monitored_movements(session))
            through = await repository.progress(session, CONSUMER)
            rows = await repository.recent_fixes(
                session, active, now - self.rebuild_window, self.rebuild_max_fixes, received_before
            )
        if not rows:
            return 0
        # what the previous consumer took (replayed, not persisted) and what it may not have (caught up on)
        settled = through - SETTLE_MARGIN if through is not None else None
        taken = [r for r in rows if settled is None or r.received_at < settled]
        after = [r for r in rows if settled is not None and r.received_at >= settled]
        if taken:
            replayed: dict[int, MovementState] = {}
            plans = {i: self.plans[i] for i in active}
            engine.process_batch(plans, replayed, _row_columns(taken), now)
            for movement_id, state in replayed.items():
                state.open_alarms |= self.states[movement_id].open_alarms
                self.states[movement_id] = state
        log.info("monitoring rebuilt %d movements from %d stored fixes", len(active), len(taken))
        if after:
            await self._catch_up(db, after, now)
        return len(rows)

    async def _run_engine(self, columns: engine.FixColumns, count: int, now: datetime) -> BatchResult:
        """Run the engine on a batch of `count` fixes; one of OFF_LOOP_MIN_FIXES or more off the event
        loop, so the gateways sharing it keep answering devices (the engine's numpy and compiled kernels
        release the GIL for much of the batch)."""
        if count >= OFF_LOOP_MIN_FIXES:
            return await asyncio.to_thread(engine.process_batch, self.plans, self.states, columns, now)
        return engine.process_batch(self.plans, self.states, columns, now)

    async def _catch_up(self, db: Database, rows: Sequence[TelemetryFix], now: datetime) -> None:
        """Run stored fixes the previous consumer may not have taken through the engine, in the order they
        were received, and store what they decide less what it finds stored already."""
        rows = sorted(rows, key=attrgetter("received_at", "movement_id", "time", "record_id"))
        columns = _row_columns(rows)
        async with db.session() as session:
            events = (await self._run_engine(columns, len(rows), now)).events
            recorded = None
            if events:
                since = min(e.at for e in events)
                recorded = await repository.recorded_outcomes(
                    session, {e.movement_id for e in events}, since, SYSTEM_ACTOR
                )
            changes = await _persist(session, {}, events, _row_positions(rows), recorded=recorded)
            await repository.advance(session, CONSUMER, rows[-1].received_at, utcnow())
            await commit(session)
        log.info(
            "monitoring caught up on %d stored fixes received from %s: %d changes stored",
            len(rows),
            rows[0].received_at.isoformat(),
            len(changes),
        )
        if self.hub is not None:
            self.hub.publish(changes)
        self.events_seen += len(events)

    async def _process(
        self,
        db: Database,
        batch: Sequence[StoredFix],
        now: datetime,
        bus_position: tuple[str, int] | None = None,
    ) -> int:
        # A batch from the bus comes in parts (single fixes, and blocks of one movement's fixes as columns)
        parts: Sequence[StoredFix | StoredBlock] = batch.parts if isinstance(batch, StoredFixes) else batch
        ids = {f.movement_id for f in parts if f.movement_id is not None}
        events: list[AlarmEvent] = []
        changes: list[AlarmChange] = []
        try:
            async with db.session() as session:
                active = await self._refresh_ids(session, ids)
                fixes = StoredFixes(f for f in parts if f.movement_id in active)
                if fixes:
                    result = await self._run_engine(_columns(fixes), len(fixes), now)
                    if result.rejected:
                        log.debug(
                            "monitoring refused %d fixes: %s", len(result.rejected), result.rejected[:5]
                        )
                    events = result.events
                    changes = await _persist(session, {}, events, _stored_positions(fixes))
                # How far this consumer got, with the outcome: when the batch stored something (its commit
                # flushes the log anyway), else at most every PROGRESS_EVERY_S (a commit that writes waits
                # for the disk; a progress behind only means more taken again after a crash).
                record = bool(parts) and (bool(events) or time.monotonic() >= self._progress_due)
                if record:
                    newest = max(f.received_at for f in parts)
                    await repository.advance(session, CONSUMER, newest, utcnow(), bus_position=bus_position)
                await commit(session)
                if record:
                    self._progress_due = time.monotonic() + PROGRESS_EVERY_S
        except Exception:
            self.failed_batches += 1
            log.exception("monitoring batch of %d fixes failed; its movements restart fresh", len(batch))
            for movement_id in ids:
                self.forget(movement_id)
            return 0
        if self.hub is not None:
            self.hub.publish(changes)
        self.events_seen += len(events)
        return len(events)

    async def tick(self, db: Database, now: datetime | None = None) -> int:
        """Apply the time rules (signal lost, late, time limit exceeded) to every monitored movement."""
        async with self._engine_lock:
            return await self._tick(db, now or self.clock())

    async def _tick(self, db: Database, now: datetime) -> int:
        try:
            async with db.session() as session:
                movements = await repository.monitored_movements(session)
                active = await self._refresh(session, movements)
                for movement_id in set(self.plans) - set(active):
                    self.forget(movement_id)
                plans = {i: self.plans[i] for i in active}
                events = engine.check_time(plans, self.states, now)
                changes = await _persist(session, active, events, _no_positions)
                await commit(session)
        except Exception:
            self.failed_batches += 1
            log.exception("monitoring time check failed; states restart fresh")
            self.states.clear()
            return 0
        if self.hub is not None:
            self.hub.publish(changes)
        return len(events)


def _flag(value: bool | None) -> int:
    return -1 if value is None else int(value)


_FLAGS: Final = {None: -1, False: 0, True: 1}
_flag_of = _FLAGS.__getitem__


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


def _columns(fixes: StoredFixes) -> engine.FixColumns:
    """Give the fixes as the engine's columns, the seal as stored (read through the profile, or given).

    A block's columns are taken as they are; a single fix's values one by one."""
    movement: list[Iterable[int]] = []
    time_us: list[Iterable[int]] = []
    lat: list[Iterable[float]] = []
    lon: list[Iterable[float]] = []
    valid: list[Iterable[bool]] = []
    speed: list[Iterable[float]] = []
    states: list[Iterable[SealState]] = []
    singles: list[StoredFix] = []

    def flush() -> None:
        if not singles:
            return
        movement.append([f.movement_id or 0 for f in singles])
        time_us.append([microseconds(f.fix.time) for f in singles])
        lat.append([f.fix.lat for f in singles])
        lon.append([f.fix.lon for f in singles])
        valid.append([f.fix.valid for f in singles])
        speed.append([_nan_if_none(f.fix.speed_kmh) for f in singles])
        states.append([f.state for f in singles])
        singles.clear()

    for part in fixes.parts:
        if not isinstance(part, StoredBlock):
            singles.append(part)
            continue
        flush()
        block, rows = part.block, part.rows
        movement.append(repeat(part.movement_id or 0, len(rows)))
        time_us.append(block_entries(block.time_us, rows))
        lat.append(block_entries(block.lat, rows))
        lon.append(block_entries(block.lon, rows))
        valid.append(block_entries(block.valid, rows))
        speed.append(block_entries(block.speed_kmh, rows))
        states.append(part.states)
    flush()
    n = len(fixes)

    def column(pieces: list[Iterable[Any]], dtype: Any) -> Any:
        return np.fromiter(chain.from_iterable(pieces), dtype=dtype, count=n)

    every = list(chain.from_iterable(states))
    return engine.FixColumns(
        movement=column(movement, np.int64),
        time_us=column(time_us, np.int64),
        lat=column(lat, np.float64),
        lon=column(lon, np.float64),
        valid=column(valid, np.bool_),
        speed_kmh=column(speed, np.float64),
        opened=np.fromiter(map(_flag_of, map(_OPENED, every)), dtype=np.int8, count=n),
        tampered=np.fromiter(map(_flag_of, map(_TAMPERED, every)), dtype=np.int8, count=n),
        low_battery=np.fromiter(map(_flag_of, map(_LOW_BATTERY, every)), dtype=np.int8, count=n),
        battery_v=np.fromiter(map(_nan_if_none, map(_BATTERY_V, every)), dtype=np.float64, count=n),
    )


_OPENED: Final = attrgetter("opened")
_TAMPERED: Final = attrgetter("tampered")
_LOW_BATTERY: Final = attrgetter("low_battery")
_BATTERY_V: Final = attrgetter("battery_v")


def _row_columns(rows: Sequence[TelemetryFix]) -> engine.FixColumns:
    """Give stored fixes (rows of `fixes`) as the engine's columns, the seal as stored."""

    def column(values: Iterable[Any], dtype: Any) -> Any:
        return np.fromiter(values, dtype=dtype, count=len(rows))

    def unknown_nan(value: float | None) -> float:
        return math.nan if value is None else value

    return engine.FixColumns(
        movement=column((r.movement_id or 0 for r in rows), np.int64),
        time_us=column((microseconds(r.time) for r in rows), np.int64),
        lat=column((r.lat for r in rows), np.float64),
        lon=column((r.lon for r in rows), np.float64),
        valid=column((r.valid for r in rows), np.bool_),
        speed_kmh=column((unknown_nan(r.speed_kmh) for r in rows), np.float64),
        opened=column((_flag(r.opened) for r in rows), np.int8),
        tampered=column((_flag(r.tampered) for r in rows), np.int8),
        low_battery=column((_flag(r.low_battery) for r in rows), np.int8),
        battery_v=column((unknown_nan(r.battery_v) for r in rows), np.float64),
    )


# Where the fix at a batch position was: (lat, lon, valid), for an alarm's evidence.
Positions = Callable[[int], tuple[float, float, bool]]
# What monitoring stored already (`repository.recorded_outcomes`): alarms opened, findings.
Recorded = tuple[set[tuple[int, str, datetime]], set[tuple[int, str, datetime, str | None, str | None]]]


def _stored_positions(fixes: StoredFixes) -> Positions:
    def position(index: int) -> tuple[float, float, bool]:
        fix = fixes[index].fix
        return fix.lat, fix.lon, fix.valid

    return position


def _row_positions(rows: Sequence[TelemetryFix]) -> Positions:
    def position(index: int) -> tuple[float, float, bool]:
        row = rows[index]
        return row.lat, row.lon, row.valid

    return position


def _no_positions(index: int) -> tuple[float, float, bool]:
    raise IndexError(f"no fix at batch position {index}: the time rules give no fix as evidence")


def _evidence(event: AlarmEvent, position: Positions) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ref in event.evidence:
        item: dict[str, Any] = {"time": ref.time.isoformat()}
        if ref.index is not None:
            lat, lon, valid = position(ref.index)
            item.update(lat=lat, lon=lon, valid=valid)
        out.append(item)
    return out


async def _persist(
    session: AsyncSession,
    movements: Mapping[int, Movement],
    events: Sequence[AlarmEvent],
    position: Positions,
    *,
    recorded: Recorded | None = None,
) -> list[AlarmChange]:
    """Write the engine's events: alarms opened or cleared, crossings and findings on the timeline.

    `movements` gives the movements by id where the caller has them; the others are read when needed.
    `recorded` (a catch-up, `repository.recorded_outcomes`) is what was stored already: an opening or a
    finding found there is left out, and so is a clearing of an open alarm that it cannot have ended
    (one opened after it, or after the opening the clearing pairs with)."""
    if not events:
        return []
    opened_before, found_before = recorded if recorded is not None else (set(), set())
    opened_at: dict[tuple[int, str], datetime] = {}  # in a catch-up: the opening each rule's clearing ends
    open_now = {
        (a.movement_id, a.rule): a
        for a in await repository.open_alarms(session, {e.movement_id for e in events})
    }
    changes: list[AlarmChange] = []
    touched: list[tuple[str, Alarm]] = []
    for event in events:
        key = (event.movement_id, event.rule.value)
        details = dict(event.details)
        if event.kind is EventKind.EVENT:
            kind = "border_crossing" if event.rule is Rule.BORDER_CROSSING else "alarm"
            body = {"rule": event.rule.value, **details}
            if kind == "alarm":
                body["action"] = "retrospective"
            if (event.movement_id, kind, event.at, event.rule.value, body.get("action")) in found_before:
                continue  # stored before a crash: a catch-up finds it again
            _timeline(session, event.movement_id, kind, event.at, SYSTEM_ACTOR, body)
        elif event.kind is EventKind.OPEN:
            opened_at[key] = event.at
            if key in open_now or (*key, event.at) in opened_before:
                continue  # still open from before (a restart, or an officer has not resolved it yet)
            alarm = await repository.open_alarm(
                session,
                movement_id=event.movement_id,
                rule=event.rule.value,
                severity=event.severity.value,
                status=schemas.AlarmStatus.OPEN.value,
                opened_at=event.at,
                evidence=_evidence(event, position),
                details=details,
            )
            if alarm is None:
                # Another monitoring process opened it meanwhile (each runs the time rules): one alarm
                # stays open per movement and rule, and this one is left out.
                continue
            open_now[key] = alarm
            touched.append(("opened", alarm))
            audit.record(
                session,
                actor=SYSTEM_ACTOR,
                action="alarm.opened",
                entity_type="alarm",
                entity_id=alarm.id,
                before=None,
                after={
                    **_snapshot(alarm),
                    "severity": alarm.severity,
                    "opened_at": alarm.opened_at.isoformat(),
                },
            )
            _timeline(
                session,
                event.movement_id,
                "alarm",
                event.at,
                SYSTEM_ACTOR,
                {"alarm_id": alarm.id, "rule": alarm.rule, "severity": alarm.severity, "action": "opened"},
            )
        else:
            found = open_now.get(key)
            if found is None:
                continue  # an officer already resolved it
            if recorded is not None and (
                found.opened_at > event.at or found.opened_at != opened_at.get(key, found.opened_at)
            ):
                # A catch-up starts from the alarms open now, some opened by the fixes it takes again:
                # a clearing before such an opening, or that ended an earlier alarm, is not this one's.
                continue
            del open_now[key]
            before = _snapshot(found)
            found.status = schemas.AlarmStatus.RESOLVED.value
            found.resolved_by = SYSTEM_ACTOR
            found.resolved_at = event.at
            found.details = {
                **found.details,
                "cleared": details,
                "cleared_evidence": _evidence(event, position),
            }
            touched.append(("cleared", found))
            audit.record(
                session,
                actor=SYSTEM_ACTOR,
                action="alarm.cleared",
                entity_type="alarm",
                entity_id=found.id,
                before=before,
                after=_snapshot(found),
            )
            _timeline(
                session,
                event.movement_id,
                "alarm",
                event.at,
                SYSTEM_ACTOR,
                {"alarm_id": found.id, "rule": found.rule, "action": "cleared"},
            )
    await session.flush()
    missing = {alarm.movement_id for _, alarm in touched} - movements.keys()
    if missing:
        movements = {**movements, **{m.id: m for m in await repository.movements_by_ids(session, missing)}}
    for action, alarm in touched:
        changes.append(AlarmChange(action, alarm_view(alarm), scope_of(movements[alarm.movement_id])))
    return changes


async def _prepare(
    monitor: Monitor, db: Database, received_before: Callable[[], Awaitable[datetime | None]]
) -> None:
    """Load the boundaries and the engine, then rebuild the state from the stored fixes received before
    what the bus will give first; `monitor.ready` is set when done (or failed)."""
    try:
        # The boundaries take seconds to load, the engine's compiled kernels a second or more: off the
        # event loop, before the first batch needs them, so that the gateways sharing the loop are not
        # held up.
        await asyncio.to_thread(borders.load_boundaries)
        await asyncio.to_thread(warm_engine)
    except Exception:
        log.exception("monitoring could not load its boundaries or engine ahead; the first batch will")
    try:
        await monitor.rebuild(db, await received_before() or utcnow())
    except Exception:
        log.exception("monitoring could not rebuild its state from the stored fixes; starting fresh")
    finally:
        monitor.ready.set()


async def run_monitor(
    db: Database,
    bus: FixBus,
    settings: Settings,
    *,
    hub: AlarmHub | None = None,
    monitor: Monitor | None = None,
) -> None:
    """Rebuild the engine's state from the stored fixes, then consume the bus until it closes: each batch
    through the engine, persisted in one transaction."""
    monitor = monitor or Monitor(corridor_width_m=settings.monitoring_corridor_width_m, hub=hub)

    async def oldest() -> datetime | None:
        return bus.oldest_received_at()

    await _prepare(monitor, db, oldest)
    async for batch in bus.batches(settings.monitoring_batch_max_items, settings.monitoring_batch_max_wait_s):
        await monitor.process(db, batch)


# A batch whose outcome could not be stored is taken again (not acknowledged) after these waits, then
# given up (acknowledged, logged: its fixes are in the table, its movements restart fresh).
BUS_RETRY_S: Final = (0.5, 2.0, 5.0)


async def run_monitor_nats(
    db: Database,
    consumer: NatsFixConsumer,
    settings: Settings,
    *,
    monitor: Monitor | None = None,
) -> None:
    """Consume the NATS bus through its durable consumer, until cancelled: start after the position the
    monitoring stored, rebuild the state from the stored fixes received before the first message to
    take, then each delivery through the engine, its outcome and position committed in one transaction
    and only then acknowledged. A gap message (fixes that never reached the bus) runs the fixes it names
    from the table first."""
    monitor = monitor or Monitor(corridor_width_m=settings.monitoring_corridor_width_m)
    async with db.session() as session:
        stored = await repository.bus_position(session, CONSUMER)
    await consumer.start(stored)
    await _prepare(monitor, db, consumer.oldest_received_at)
    try:
        async for delivery in consumer.deliveries(
            settings.monitoring_batch_max_items, settings.monitoring_batch_max_wait_s
        ):
            for since, until, movements in delivery.gaps:
                taken = await monitor.catch_up_received(db, since, until, movements)
                log.warning(
                    "monitoring took %d fixes that never reached the bus (received %s to %s) from the table",
                    taken,
                    since.isoformat(),
                    until.isoformat(),
                )
            if delivery.fixes:
                for wait in (*BUS_RETRY_S, None):
                    failed = monitor.failed_batches
                    await monitor.process(db, delivery.fixes, bus_position=delivery.position)
                    if monitor.failed_batches == failed:
                        break
                    if wait is None:
                        log.error(
                            "monitoring gave up on %d fixes through bus position %s; they are stored",
                            len(delivery.fixes),
                            delivery.position,
                        )
                        break
                    await asyncio.sleep(wait)
            try:
                await delivery.ack()
            except Exception:
                # Delivered again after the ack wait, and skipped then: the position is stored (or the
                # batch stored nothing, and taking it again decides the same).
                log.warning("could not acknowledge bus position %s", delivery.position, exc_info=True)
    finally:
        await consumer.close()


def warm_engine() -> None:
    """Run one fix of a throwaway movement through the engine, so that its compiled kernels are loaded
    before the first real batch instead of holding it up (a second or two, once per process)."""
    now = utcnow()
    route = ((53.9, 27.5), (53.95, 27.6))
    plan = MovementPlan(
        movement_id=WARM_UP_MOVEMENT,
        route=route,
        released_at=now - timedelta(hours=1),
        time_limit=now + timedelta(days=1),
        destination=route[-1],
        device_profile=device_profile(FALLBACK_PROFILE),
    )
    fix = Fix("warm-up", 1, now - timedelta(minutes=1), route[0][0], route[0][1], speed_kmh=60.0)
    engine.process_batch({WARM_UP_MOVEMENT: plan}, engine_states.StateTable(), [(WARM_UP_MOVEMENT, fix)], now)


async def run_time_checks(db: Database, settings: Settings, monitor: Monitor) -> None:
    """Apply the time rules every `monitoring_tick_s` seconds, until cancelled."""
    while True:
        await asyncio.sleep(settings.monitoring_tick_s)
        await monitor.tick(db)


# --- alarm handling -------------------------------------------------------------------------------


async def get_visible(
    session: AsyncSession, principal: Principal, alarm_id: int, *, lock: bool = False
) -> tuple[Alarm, Movement]:
    """Give an alarm whose movement the principal may see; anything else reads as not found."""
    alarm = await repository.alarm(session, alarm_id, lock=lock)
    movements = await repository.movements_by_ids(session, [alarm.movement_id]) if alarm else []
    if alarm is None or not movements or not can_see(principal, scope_of(movements[0])):
        raise NotFound(f"no alarm {alarm_id}")
    return alarm, movements[0]


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
    """Give the alarms the principal may see."""
    return await repository.list_alarms(
        session,
        principal,
        status=status,
        movement_id=movement_id,
        severity=severity,
        after=after,
        limit=limit,
    )


def _handle(
    principal: Principal,
    alarm: Alarm,
    action: str,
    allowed_from: Sequence[schemas.AlarmStatus],
) -> tuple[dict[str, Any], datetime]:
    if principal.role not in HANDLERS:
        raise Forbidden(f"a {principal.role.value} may not handle alarms")
    if alarm.status not in {s.value for s in allowed_from}:
        raise IllegalTransition(
            f"an alarm {alarm.status} may not be {action}",
            allowed_from=[s.value for s in allowed_from],
        )
    return _snapshot(alarm), utcnow()


async def acknowledge(session: AsyncSession, principal: Principal, alarm_id: int) -> AlarmChange:
    """Acknowledge an open alarm (an officer or operator is on it)."""
    alarm, movement = await get_visible(session, principal, alarm_id, lock=True)
    before, now = _handle(principal, alarm, "acknowledged", [schemas.AlarmStatus.OPEN])
    alarm.status = schemas.AlarmStatus.ACKNOWLEDGED.value
    alarm.acknowledged_by, alarm.acknowledged_at = principal.subject, now
    return _record_handling(session, principal, alarm, movement, "acknowledged", before, now, None)


async def resolve(
    session: AsyncSession, principal: Principal, alarm_id: int, data: schemas.AlarmResolve
) -> AlarmChange:
    """Resolve an open or acknowledged alarm with the officer's finding."""
    alarm, movement = await get_visible(session, principal, alarm_id, lock=True)
    allowed = [schemas.AlarmStatus.OPEN, schemas.AlarmStatus.ACKNOWLEDGED]
    before, now = _handle(principal, alarm, "resolved", allowed)
    alarm.status = schemas.AlarmStatus.RESOLVED.value
    alarm.resolved_by, alarm.resolved_at, alarm.comment = principal.subject, now, data.comment
    return _record_handling(session, principal, alarm, movement, "resolved", before, now, data.comment)


def _record_handling(
    session: AsyncSession,
    principal: Principal,
    alarm: Alarm,
    movement: Movement,
    action: str,
    before: dict[str, Any],
    now: datetime,
    comment: str | None,
) -> AlarmChange:
    audit.record(
        session,
        actor=principal.subject,
        action=f"alarm.{action}",
        entity_type="alarm",
        entity_id=alarm.id,
        before=before,
        after={**_snapshot(alarm), "comment": comment},
    )
    session.add(
        MovementEvent(
            movement_id=movement.id,
            at=now,
            kind="alarm",
            office_code=principal.office_code,
            actor=principal.subject,
            details={"alarm_id": alarm.id, "rule": alarm.rule, "action": action},
            note=comment,
        )
    )
    return AlarmChange(action, alarm_view(alarm), scope_of(movement))


# --- monitoring settings of a movement ------------------------------------------------------------

SETTINGS_EDITORS: Final = frozenset({Role.MONITORING_OPERATOR, Role.ADMINISTRATOR})
# A movement's settings may change until it arrives (after that nothing is monitored).
SETTINGS_STATUSES: Final = ("lodged", "accepted", *repository.MONITORED_STATUSES)


def _api_name(name: str) -> str:
    return f"{name}_s" if name in DURATION_THRESHOLDS else name


def _domain_settings(data: schemas.MonitoringSettingsUpdate) -> MonitoringSettings:
    given = data.thresholds.model_dump(exclude_none=True)
    return MonitoringSettings(
        category=data.category,
        corridor_width_m=data.corridor_width_m,
        thresholds={name: given[_api_name(name)] for name in THRESHOLD_NAMES if _api_name(name) in given},
    )


async def _settings_view(
    session: AsyncSession, movement: Movement, default_width_m: float
) -> schemas.MonitoringSettings:
    settings = MonitoringSettings.from_document(movement.monitoring)
    goods = goods_category((await repository.hs_codes_of(session, [movement.id]))[movement.id])
    category, thresholds = effective_thresholds(settings, goods)
    values = {
        _api_name(name): value.total_seconds() if isinstance(value, timedelta) else value
        for name in THRESHOLD_NAMES
        for value in (getattr(thresholds, name),)
    }
    overrides = schemas.MonitoringSettingsUpdate(
        category=settings.category,
        corridor_width_m=settings.corridor_width_m,
        thresholds=schemas.ThresholdsIn(
            **{_api_name(name): value for name, value in settings.thresholds.items()}
        ),
    )
    return schemas.MonitoringSettings(
        movement_id=movement.id,
        category=category,
        category_from="operator" if settings.category else ("goods" if goods else None),
        goods_category=goods,
        corridor_width_m=settings.corridor_width_m or default_width_m,
        thresholds=schemas.Thresholds(**values),
        overrides=overrides,
    )


async def monitoring_settings(
    session: AsyncSession, principal: Principal, ref: str, *, default_width_m: float
) -> schemas.MonitoringSettings:
    """Give how a movement the principal may see is monitored."""
    movement, _ = await get_visible_movement(session, principal, ref)
    return await _settings_view(session, movement, default_width_m)


async def set_monitoring_settings(
    session: AsyncSession,
    principal: Principal,
    ref: str,
    data: schemas.MonitoringSettingsUpdate,
    *,
    default_width_m: float,
) -> schemas.MonitoringSettings:
    """Set a movement's goods category, corridor width and thresholds (a monitoring operator's call)."""
    movement, _ = await get_visible_movement(session, principal, ref, lock=True)
    if principal.role not in SETTINGS_EDITORS:
        raise Forbidden(f"a {principal.role.value} may not set monitoring thresholds")
    if movement.status not in SETTINGS_STATUSES:
        raise IllegalTransition(
            f"the monitoring of a movement {movement.status} may not change",
            allowed_from=list(SETTINGS_STATUSES),
        )
    settings = _domain_settings(data)
    problems = settings_problems(settings)
    if problems:
        raise ValidationFailed(
            [FieldError(f"body.thresholds.{_api_name(name)}", reason) for name, reason in problems]
        )
    before, after = movement.monitoring, settings.as_document()
    movement.monitoring = after
    audit.record(
        session,
        actor=principal.subject,
        action="movement.monitoring_set",
        entity_type="movement",
        entity_id=movement.id,
        before=before,
        after=after,
    )
    session.add(
        MovementEvent(
            movement_id=movement.id,
            at=utcnow(),
            kind="monitoring",
            office_code=principal.office_code,
            actor=principal.subject,
            details=after,
        )
    )
    await session.flush()
    return await _settings_view(session, movement, default_width_m)
