"""The fix bus on NATS JetStream (TAMGA_TEST_NATS_URL): what one connection publishes another consumes in
order through the durable consumer; a restarted consumer goes on where it left off, takes first what a
dead one took without committing, and never again what was committed; a server that cannot be reached
neither holds up nor fails a store, and what it missed arrives when it is back (or, past the queue, as a
gap to take from the table)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from tests.conftest import Backend, _free_port
from tests.ingest.devices import register_seal, track
from tests.support.nats import own_bus, require_nats

from tamga.ingest import store
from tamga.ingest.bus import StoredFix, StoredFixes
from tamga.ingest.bus_codec import carried
from tamga.ingest.fix import Fix
from tamga.ingest.nats_bus import Delivery, NatsBusConfig, NatsFixConsumer, NatsFixPublisher
from tamga.ingest.profiles import SealState
from tamga.ingest.service import Report, device_of
from tamga.ingest.writer import FixWriter

URL = require_nats()
T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
STATE = SealState(False, False, True, 3.9, False)


def stored(first: int, count: int, movement_id: int = 1) -> list[StoredFix]:
    received = T0 + timedelta(seconds=first)
    return [
        StoredFix(
            3,
            movement_id,
            "http",
            received,
            Fix("dev-1", i, T0 + timedelta(seconds=30 * i), 53.9, 27.5),
            STATE,
        )
        for i in range(first, first + count)
    ]


async def wait_until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def published(config: NatsBusConfig, *batches: list[StoredFix]) -> None:
    """Publish batches through a publisher of its own (its own connection), in order, and close it."""
    publisher = NatsFixPublisher(config)
    await publisher.start()
    for batch in batches:
        publisher.publish(StoredFixes(batch))
    await wait_until(lambda: publisher.published == sum(map(len, batches)))
    await publisher.close()


@contextlib.asynccontextmanager
async def consuming(config: NatsBusConfig, position: tuple[str, int] | None = None) -> AsyncIterator[Taker]:
    consumer = NatsFixConsumer(config)
    await asyncio.wait_for(consumer.start(position), 15)
    taker = Taker(consumer)
    try:
        yield taker
    finally:
        await taker.close()


class Taker:
    def __init__(self, consumer: NatsFixConsumer) -> None:
        self.consumer = consumer
        self.deliveries = consumer.deliveries(max_items=10_000, max_wait_s=0.2)

    async def next(self, timeout_s: float = 10.0) -> Delivery:
        return await asyncio.wait_for(anext(self.deliveries), timeout_s)

    async def close(self) -> None:
        await self.deliveries.aclose()
        await self.consumer.close()


async def test_what_one_connection_publishes_another_consumes_in_order() -> None:
    async with own_bus(URL) as config:
        batches = [stored(0, 5), stored(5, 3, movement_id=2), stored(8, 4)]
        await published(config, *batches)
        async with consuming(config) as taker:
            got: list[StoredFix] = []
            while len(got) < 12:
                delivery = await taker.next()
                got += list(delivery.fixes)
                await delivery.ack()
            assert got == [carried(f) for batch in batches for f in batch]
            assert delivery.position == (taker.consumer.identity, 3)  # one message a batch


async def test_a_restarted_consumer_goes_on_where_it_left_off() -> None:
    async with own_bus(URL) as config:
        await published(config, stored(0, 5))
        async with consuming(config) as taker:
            delivery = await taker.next()
            assert len(delivery.fixes) == 5
            await delivery.ack()
        await published(config, stored(5, 4))  # while no consumer runs
        async with consuming(config) as taker:
            delivery = await taker.next()
            assert [f.fix.record_id for f in delivery.fixes] == [5, 6, 7, 8]


async def test_what_a_dead_consumer_took_without_committing_comes_first_and_at_once() -> None:
    async with own_bus(URL) as config:  # the ack wait is a minute: nothing may wait for it
        await published(config, stored(0, 5))
        async with consuming(config) as taker:
            assert len((await taker.next()).fixes) == 5  # taken, never committed nor acknowledged
        await published(config, stored(5, 2))
        async with consuming(config) as taker:
            delivery = await taker.next(timeout_s=5)
            assert [f.fix.record_id for f in delivery.fixes][:5] == [0, 1, 2, 3, 4]


async def test_what_was_committed_but_not_acknowledged_is_not_taken_again() -> None:
    async with own_bus(URL) as config:
        await published(config, stored(0, 5))
        async with consuming(config) as taker:
            delivery = await taker.next()
            committed = delivery.position  # stored with the batch's outcome; the process dies before acking
        await published(config, stored(5, 2))
        async with consuming(config, committed) as taker:
            delivery = await taker.next(timeout_s=5)
            assert [f.fix.record_id for f in delivery.fixes] == [5, 6]


async def test_a_redelivery_after_the_ack_wait_is_skipped() -> None:
    async with own_bus(URL, ack_wait_s=1.0) as config:
        await published(config, stored(0, 5))
        async with consuming(config) as taker:
            first = await taker.next()
            assert len(first.fixes) == 5
            await asyncio.sleep(2.5)  # its acknowledgement was lost: the server delivers it again
            await published(config, stored(5, 2))
            delivery = await taker.next()
            assert [f.fix.record_id for f in delivery.fixes] == [5, 6]
            assert taker.consumer.skipped >= 1


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def forwarding(port: int, to: str) -> AsyncIterator[None]:
    """The NATS server reachable on `port` too, for as long as the context lasts."""
    host, target = to.removeprefix("nats://").rsplit(":", 1)
    pipes: set[asyncio.Task[None]] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(target))
        for task in (_pipe(reader, upstream_writer), _pipe(upstream_reader, writer)):
            pipes.add(asyncio.create_task(task))

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)


@pytest.mark.parametrize("max_queued", [1000, 10])
async def test_an_unreachable_server_neither_holds_up_nor_fails_a_store(
    backend: Backend, max_queued: int
) -> None:
    port = _free_port()  # nothing listens there yet
    async with own_bus(URL) as real:
        away = dataclasses.replace(real, url=f"nats://127.0.0.1:{port}")
        publisher = NatsFixPublisher(away, max_queued=max_queued)
        await publisher.start()
        writer = FixWriter(backend.db, publisher)
        seal = await register_seal(backend.db)
        async with backend.db.session() as session:
            row = await store.seal_by_device_id(session, seal.device_id)
            assert row is not None
            device = device_of(row)
        fixes = track(seal.device_id, 30, start=T0)
        loop = asyncio.get_running_loop()
        try:
            for i in range(0, 30, 10):
                started = loop.time()
                outcome = await asyncio.wait_for(
                    writer.store([Report(device, f, "egts") for f in fixes[i : i + 10]]), 5
                )
                assert loop.time() - started < 1.0  # the connection attempt takes up to 2 s: not waited for
                assert len(outcome.stored) == 10
            async with backend.db.session() as session:
                assert await store.count_fixes(session, seal.device_id) == 30
            await wait_until(lambda: publisher.failed >= 1)
            assert not publisher.connected.is_set()
            queued = len(publisher)
            assert queued == min(30, max_queued)
            assert publisher.overflowed == 30 - queued

            # The server is reachable again: what was queued goes out in order, after a gap for the rest
            async with forwarding(port, URL):
                await wait_until(lambda: len(publisher) == 0, 20)
                async with consuming(real) as taker:
                    delivery = await taker.next()
        finally:
            await writer.close()
            await publisher.close()
    assert [f.fix.record_id for f in delivery.fixes] == [f.record_id for f in fixes[-queued:]]
    if max_queued == 10:
        ((since, until, movements),) = delivery.gaps
        async with backend.db.session() as session:
            rows = await store.fixes_of_device(session, seal.device_id)
        dropped = [r.received_at for r in rows if (r.record_id or 0) < 20]
        assert since <= min(dropped) and until >= max(dropped)
        assert movements == []  # the seal serves no movement
    else:
        assert delivery.gaps == []
