"""The monitoring on the NATS JetStream bus (TAMGA_TEST_NATS_URL), on each database: a batch whose outcome
was committed by a consumer that died before acknowledging it is not counted again by the next one; the
fixes of a gap (never on the bus) are taken from the table; and a real `tamga ingest`, running the
gateways only, publishes what a seal reports over EGTS while a monitoring consumer elsewhere opens the
alarm."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from tests.conftest import Backend
from tests.monitoring.pipeline import SimClock, numbered, running
from tests.monitoring.tracks import Trip
from tests.support.ingest_process import Server, alarms_after_egts, free_port
from tests.support.nats import own_bus, require_nats

from tamga.ingest import store
from tamga.ingest.fix import Fix
from tamga.ingest.nats_bus import NatsBusConfig, NatsFixConsumer, NatsFixPublisher
from tamga.ingest.service import Report, device_of
from tamga.ingest.writer import FixWriter
from tamga.models import Alarm, MovementEvent
from tamga.monitoring.domain import Rule
from tamga.monitoring.service import AlarmHub, Monitor, run_monitor_nats
from tamga.monitoring.tasks import MonitoringTasks
from tamga.simulate.corridors import CORRIDORS

URL = require_nats()
KOZLOVICHI_MINSK = CORRIDORS["m1-kozlovichi-brest-minsk"]


async def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def stored_and_published(
    backend: Backend,
    config: NatsBusConfig,
    device_id: str,
    fixes: Sequence[Fix],
    *,
    max_queued: int = 200_000,
) -> NatsFixPublisher:
    """Store the fixes as the gateways do (the writer), publishing to the bus; give the publisher, open."""
    async with backend.db.session() as session:
        row = await store.seal_by_device_id(session, device_id)
        assert row is not None
        device = device_of(row)
    publisher = NatsFixPublisher(config, max_queued=max_queued)
    writer = FixWriter(backend.db, publisher)
    for i in range(0, len(fixes), 5):
        await writer.store([Report(device, f, "http") for f in fixes[i : i + 5]])
    await writer.close()
    return publisher


async def seal_alarms(backend: Backend, movement_id: int) -> tuple[list[str], int]:
    """The movement's seal-opened alarms (their status) and how many openings its timeline shows."""
    async with backend.db.session() as session:
        alarms = (
            await session.execute(
                select(Alarm.status).where(
                    Alarm.movement_id == movement_id, Alarm.rule == Rule.SEAL_OPENED.value
                )
            )
        ).scalars()
        events = (
            await session.execute(
                select(MovementEvent.details).where(MovementEvent.movement_id == movement_id)
            )
        ).scalars()
        opened = [
            e
            for e in events
            if e.get("rule") == Rule.SEAL_OPENED.value and e.get("action") in ("opened", "retrospective")
        ]
        return list(alarms), len(opened)


async def test_a_batch_committed_but_not_acknowledged_is_not_counted_again(backend: Backend) -> None:
    async with running(backend) as pipeline:
        released = await pipeline.release(KOZLOVICHI_MINSK)
    start = released.plan.released_at + timedelta(seconds=30)
    t = Trip(released.plan, start=start, period_s=60.0)
    t.drive(5, 80).seal(opened=True).drive(3, 60).seal().drive(3, 60)  # opened, then closed: cleared
    first = len(t.samples)
    t.drive(5, 80)
    fixes = numbered([f for _, f in t.fixes()], released.device_id)
    clock = SimClock(fixes[-1].time + timedelta(seconds=1))
    settings = backend.settings.model_copy(update={"monitoring_tick_s": 86_400.0})

    async with own_bus(URL) as config:
        publisher = await stored_and_published(backend, config, released.device_id, fixes[:first])
        await publisher.start()
        await wait_until(lambda: publisher.published == first)

        # The first consumer commits the batch's outcome (and its bus position), then dies unacknowledged
        consumer = NatsFixConsumer(config)
        await consumer.start(None)
        deliveries = consumer.deliveries(max_items=10_000, max_wait_s=0.2)
        delivery = await asyncio.wait_for(anext(deliveries), 10)
        assert len(delivery.fixes) == first
        await Monitor(clock=clock).process(backend.db, delivery.fixes, bus_position=delivery.position)
        await deliveries.aclose()
        await consumer.close()
        assert await seal_alarms(backend, released.id) == (["resolved"], 1)

        # The next one starts from what was stored and takes on from there
        monitor = Monitor(clock=clock)
        task = asyncio.create_task(
            run_monitor_nats(backend.db, NatsFixConsumer(config), settings, monitor=monitor)
        )
        try:
            await asyncio.wait_for(monitor.ready.wait(), 60)
            rest = await stored_and_published(backend, config, released.device_id, fixes[first:])
            await rest.start()
            await wait_until(lambda: monitor.fixes_seen >= len(fixes) - first)
            await rest.close()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await publisher.close()
        # Taken again from a state before it, the batch would open (and clear) the alarm a second time
        assert await seal_alarms(backend, released.id) == (["resolved"], 1)
        assert monitor.fixes_seen == len(fixes) - first  # the first batch was not taken again


async def test_fixes_that_never_reached_the_bus_are_taken_from_the_table(backend: Backend) -> None:
    async with running(backend) as pipeline:
        released = await pipeline.release(KOZLOVICHI_MINSK)
    t = Trip(released.plan, start=released.plan.released_at + timedelta(seconds=30), period_s=60.0)
    t.drive(5, 80).seal(opened=True).drive(3, 60).seal().drive(30, 60)  # opened and closed, long ago
    fixes = numbered([f for _, f in t.fixes()], released.device_id)
    clock = SimClock(fixes[-1].time + timedelta(seconds=1))
    settings = backend.settings.model_copy(update={"monitoring_tick_s": 86_400.0})
    async with own_bus(URL) as config:
        monitor = Monitor(clock=clock)
        task = asyncio.create_task(
            run_monitor_nats(backend.db, NatsFixConsumer(config), settings, monitor=monitor)
        )
        publisher = None
        try:
            await asyncio.wait_for(monitor.ready.wait(), 60)
            # Queued while the server could not be reached, past the queue's bound: only the last 20 fixes
            # stay queued, the seal's opening and closing among those dropped, behind a gap message
            away = NatsBusConfig(
                f"nats://127.0.0.1:{free_port()}", config.stream, config.subject, config.consumer
            )
            publisher = await stored_and_published(backend, away, released.device_id, fixes, max_queued=20)
            queued = len(publisher)
            assert publisher.overflowed == len(fixes) - queued >= len(fixes) - 20
            publisher.config = config  # the server is back
            await publisher.start()
            await wait_until(lambda: publisher is not None and publisher.published == queued)
            await wait_until(lambda: monitor.fixes_seen >= queued)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if publisher is not None:
                await publisher.close()
        assert await seal_alarms(backend, released.id) == (["resolved"], 1)


async def test_tamga_ingest_publishes_and_a_monitor_elsewhere_opens_the_alarm(
    backend: Backend, tmp_path: Path
) -> None:
    async with running(backend) as pipeline:  # the API, to release a movement under an EGTS seal
        released = await pipeline.release(KOZLOVICHI_MINSK, egts=True)
    # Real time: the engine refuses fixes dated more than five minutes ahead of its clock.
    t = Trip(released.plan, start=released.plan.released_at + timedelta(seconds=1), period_s=5.0)
    t.drive(3, 60).seal(opened=True).drive(0.5, 60)  # opened 3 km out of Kozlovichi, on the road
    fixes = numbered([f for _, f in t.fixes()], released.device_id)

    async with own_bus(URL) as config:
        server = Server(backend.url, free_port(), tmp_path / "ingest.log")
        server.start(
            wialon_enabled="false",
            bus_url=config.url,
            bus_stream=config.stream,
            bus_subject=config.subject,
            bus_consumer=config.consumer,
        )
        settings = backend.settings.model_copy(update={"bus_url": config.url, "monitoring_tick_s": 3600.0})
        monitoring = MonitoringTasks(backend.db, NatsFixConsumer(config), settings, AlarmHub())
        monitoring.start()
        try:
            rules = await alarms_after_egts(server, backend.db, released.id, released.device_id, fixes)
            assert rules == [Rule.SEAL_OPENED.value], server.log.read_text()
            assert monitoring.monitor.fixes_seen == len(fixes)  # taken here, from the bus
        finally:
            server.stop()
            await monitoring.stop()
    log = server.log.read_text()
    assert f"publishing stored fixes to NATS JetStream {config.stream}" in log
    assert "monitoring the fixes stored here" not in log
