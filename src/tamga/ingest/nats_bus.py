"""The fix bus between processes: NATS JetStream, when `TAMGA_BUS_URL` names a server.

    publisher = NatsFixPublisher(config)        # the gateways' side: `publish` as FixBus.publish
    await publisher.start(); publisher.publish(stored); await publisher.close()

    consumer = NatsFixConsumer(config)          # the monitoring's side, one process per consumer name
    await consumer.start(through)               # `through`: the position the monitoring last stored
    async for delivery in consumer.deliveries(max_items, max_wait_s):
        ...                                     # delivery.fixes (StoredFixes), delivery.gaps
        await delivery.ack()                    # after the batch's outcome is committed

The stream (`config.stream`, subject `config.subject`) keeps messages by limits: at most `max_age_s` and
`max_bytes`, the oldest discarded first, so a consumer that is gone cannot fill the server's disk (the
`fixes` table is the record; what the stream lost, the monitoring catches up from the table when it
starts). Each message is one writer commit's new fixes, in columns (`bus_codec`), at most 10,000 fixes.

Publishing never waits: `publish` encodes and queues; one task sends the queue in order, each message
with a `Nats-Msg-Id`, so one sent again after a lost acknowledgement is stored once (within the stream's
duplicate window). While the server cannot be reached the queue waits (every failure is logged and
counted in `failed`); past `max_queued` fixes the oldest are dropped (`overflowed`) and the receipt
window they covered goes ahead of the rest as a gap message, on which the monitoring runs the stored
fixes received in that window from the table. The fixes themselves were committed and confirmed to
their devices before `publish`: an unreachable server never fails or delays a store.

The consumer is a durable pull consumer acknowledged "all" (acking a message acknowledges every one
before it) and only after the batch's outcome is committed. The monitoring stores the stream position
it has been through (`MonitoringProgress.bus_sequence`) in the transaction of a batch that stored
something; on start the consumer is put at the larger of that position and its own acknowledgement
floor, so a batch whose outcome was committed but not acknowledged is not taken again, and one that was
delivered to a consumer that died before committing is delivered again first. Messages at or before the
position are acknowledged and skipped (a redelivery after `ACK_WAIT_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import nats
import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from tamga.config import Settings
from tamga.ingest import bus_codec
from tamga.ingest.bus import FixBus, StoredFix, StoredFixes

log = logging.getLogger(__name__)

ACK_WAIT_S: Final = 60.0  # a batch not acknowledged within this is delivered again
DUPLICATE_WINDOW_S: Final = 120.0  # a message sent again within this (same Nats-Msg-Id) is stored once
PUBLISH_TIMEOUT_S: Final = 2.0
RETRY_S: Final = (0.2, 0.5, 1.0, 2.0, 5.0)  # waits between attempts to reach the server, then the last
IDLE_FETCH_S: Final = 1.0  # how long a fetch waits for a first message
FETCH_MESSAGES: Final = 64
KIND_HEADER: Final = "Tamga-Kind"  # "gap" for a gap message; none for fixes
STOP_WAIT_S: Final = 5.0  # how long a closing publisher sends what is queued
# a gap message names the movements whose fixes it stands for, up to this many (else: every movement)
GAP_MAX_MOVEMENTS: Final = 50_000


@dataclass(frozen=True, slots=True)
class NatsBusConfig:
    """Where the bus is and what it keeps."""

    url: str
    stream: str = "TAMGA_FIXES"
    subject: str = "tamga.fixes"
    consumer: str = "monitoring"
    max_age_s: float = 86_400.0
    max_bytes: int = 1 << 30
    ack_wait_s: float = ACK_WAIT_S

    @classmethod
    def from_settings(cls, settings: Settings) -> NatsBusConfig:
        """The bus the settings name (`bus_url` must be set)."""
        if not settings.bus_url:
            raise ValueError("TAMGA_BUS_URL is not set: the bus is in the process")
        return cls(
            url=settings.bus_url,
            stream=settings.bus_stream,
            subject=settings.bus_subject,
            consumer=settings.bus_consumer,
            max_age_s=settings.bus_max_age_s,
            max_bytes=settings.bus_max_bytes,
        )

    def stream_config(self) -> StreamConfig:
        return StreamConfig(
            name=self.stream,
            subjects=[self.subject],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.max_age_s,
            max_bytes=self.max_bytes,
            duplicate_window=DUPLICATE_WINDOW_S,
        )


async def _quiet(error: Exception) -> None:
    log.debug("nats: %s", error)


async def _nothing() -> None:
    return None


async def connect(
    config: NatsBusConfig,
    name: str,
    on_error: Callable[[Exception], Awaitable[None]] = _quiet,
    on_reconnected: Callable[[], Awaitable[None]] = _nothing,
) -> Client:
    """Connect to the server, trying again every second until it answers (`on_error` is told of each
    failure); once connected the client reconnects on its own."""
    return await nats.connect(
        config.url,
        name=name,
        connect_timeout=2,
        reconnect_time_wait=1,
        max_reconnect_attempts=-1,
        error_cb=on_error,
        reconnected_cb=on_reconnected,
    )


async def ensure_stream(js: JetStreamContext, config: NatsBusConfig) -> None:
    """Create the stream, or bring its subject and limits to the configured ones."""
    wanted = config.stream_config()
    try:
        await js.add_stream(wanted)
    except nats.js.errors.BadRequestError as error:
        if error.err_code != 10058:  # the stream exists with another configuration
            raise
        await js.update_stream(wanted)


def _retry_wait(attempt: int) -> float:
    return RETRY_S[min(attempt, len(RETRY_S) - 1)]


# --- the gateways' side ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Outgoing:
    payload: bytes
    fixes: int
    first_us: int  # the receipt window of its fixes (microseconds since the epoch)
    last_us: int
    movements: set[int | None]
    gap: bool = False
    msg_id: str = ""


class NatsFixPublisher:
    """Stored fixes to the JetStream stream, in order, without ever making the caller wait."""

    def __init__(self, config: NatsBusConfig, *, max_queued: int = 200_000) -> None:
        if max_queued < 1:
            raise ValueError("the publisher must hold at least one fix")
        self.config, self.max_queued = config, max_queued
        self.published = 0  # fixes the stream acknowledged
        self.failed = 0  # attempts to send (or to reach the server) that failed
        self.overflowed = 0  # fixes dropped from the queue: never on the bus, monitored from the table
        self.connected = asyncio.Event()
        self._queue: deque[_Outgoing] = deque()
        self._queued = 0
        self._sending: _Outgoing | None = None
        self._wake = asyncio.Event()
        self._ids = itertools.count(1)
        self._origin = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._nc: Client | None = None
        self._closing = False
        self._outage_logged = False

    def __len__(self) -> int:
        """The fixes queued and not yet acknowledged by the stream."""
        return self._queued

    def publish(self, fixes: Iterable[StoredFix]) -> None:
        """Queue newly stored fixes for the stream; never waits (past `max_queued` the oldest go)."""
        stored = fixes if isinstance(fixes, StoredFixes) else StoredFixes(fixes)
        if not stored:
            return
        times = [part.received_at for part in stored.parts]
        first, last = bus_codec.us(min(times)), bus_codec.us(max(times))
        movements = {part.movement_id for part in stored.parts}
        for payload in bus_codec.encode(stored):
            outgoing = _Outgoing(payload, bus_codec.count(payload), first, last, movements)
            outgoing.msg_id = f"{self._origin}-{next(self._ids)}"
            self._queue.append(outgoing)
            self._queued += outgoing.fixes
        self._drop_excess()
        self._wake.set()

    def _drop_excess(self) -> None:
        """Drop the oldest queued messages past `max_queued` fixes (never the one being sent), and put
        a gap message for them first."""
        queue = self._queue
        keep = 1 if queue and queue[0] is self._sending else 0
        dropped: list[_Outgoing] = []
        while self._queued > self.max_queued and len(queue) > keep + 1:
            head = queue[keep]
            del queue[keep]
            self._queued -= head.fixes
            dropped.append(head)
        if not dropped:
            return
        fixes = sum(d.fixes for d in dropped)
        movements: set[int | None] = set().union(*(d.movements for d in dropped))
        gap = _Outgoing(b"", 0, min(d.first_us for d in dropped), max(d.last_us for d in dropped), movements)
        gap.gap, gap.msg_id = True, f"{self._origin}-{next(self._ids)}"
        ids = sorted(m for m in movements if m is not None)
        gap.payload = orjson.dumps(
            {
                "from_us": gap.first_us,
                "to_us": gap.last_us,
                "fixes": fixes + sum(int(orjson.loads(d.payload)["fixes"]) for d in dropped if d.gap),
                "movements": ids if len(ids) <= GAP_MAX_MOVEMENTS else None,
            }
        )
        queue.insert(keep, gap)  # what it stands for was stored before what is still queued
        before, self.overflowed = self.overflowed, self.overflowed + fixes
        if not before or before // self.max_queued != self.overflowed // self.max_queued:
            log.warning(
                "fix bus (NATS) unreachable for too long: %d fixes dropped from its queue so far; "
                "the monitoring takes them from the table",
                self.overflowed,
            )

    async def start(self) -> None:
        """Start sending (the server is reached in the background: an unreachable one holds nothing up)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="nats-fix-publisher")

    async def close(self) -> None:
        """Send what is queued (for at most `STOP_WAIT_S`), then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_S)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._queue:
            log.warning("fix bus (NATS): %d queued fixes not sent at stop", self._queued)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None

    async def _on_error(self, error: Exception) -> None:
        """A connection attempt or the connection failed (the client tries again by itself)."""
        self.failed += 1
        if self._outage_logged:
            log.debug("fix bus (NATS): %s", error)
            return
        self._outage_logged = True
        log.warning("fix bus (NATS) at %s: %s; stored fixes wait in the queue", self.config.url, error)

    async def _on_reconnected(self) -> None:
        self._outage_logged = False
        log.info("fix bus (NATS) at %s reached again", self.config.url)

    async def _connect(self) -> JetStreamContext:
        attempt = 0
        while True:
            try:
                self._nc = await connect(
                    self.config, f"tamga-gateways-{self._origin[:8]}", self._on_error, self._on_reconnected
                )
                js = self._nc.jetstream(timeout=PUBLISH_TIMEOUT_S)
                await ensure_stream(js, self.config)
            except Exception as error:
                self.failed += 1
                if self._nc is not None:
                    with contextlib.suppress(Exception):
                        await self._nc.close()
                    self._nc = None
                if attempt == 0:
                    log.warning("fix bus (NATS) at %s unreachable (%s); retrying", self.config.url, error)
                if self._closing:
                    raise
                await asyncio.sleep(_retry_wait(attempt))
                attempt += 1
                continue
            log.info("fix bus (NATS): publishing to %s on %s", self.config.stream, self.config.url)
            self._outage_logged = False
            self.connected.set()
            return js

    async def _run(self) -> None:
        try:
            js = await self._connect()
        except Exception:
            return  # closing before the server could be reached: what is queued stays unsent
        attempt = 0
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            head = self._sending = self._queue[0]
            headers = {"Nats-Msg-Id": head.msg_id}
            if head.gap:
                headers[KIND_HEADER] = "gap"
            try:
                await js.publish(
                    self.config.subject,
                    head.payload,
                    timeout=PUBLISH_TIMEOUT_S,
                    stream=self.config.stream,
                    headers=headers,
                )
            except Exception as error:
                self.failed += 1
                if attempt == 0:
                    log.warning("fix bus (NATS): could not publish (%s); retrying", error)
                self._sending = None
                if self._closing and attempt >= 2:
                    return
                await asyncio.sleep(_retry_wait(attempt))
                attempt += 1
                continue
            if attempt:
                log.info("fix bus (NATS): publishing again after %d failed attempts", attempt)
            attempt = 0
            self._sending = None
            self._queue.popleft()  # the head is never dropped while it is being sent
            self._queued -= head.fixes
            self.published += head.fixes


def fix_publisher(settings: Settings) -> FixBus | NatsFixPublisher:
    """Give where this process's gateways and HTTP ingest put what they store: NATS JetStream's publisher
    when `bus_url` names a server (to be started), else the in-process bus."""
    if settings.bus_url:
        config = NatsBusConfig.from_settings(settings)
        return NatsFixPublisher(config, max_queued=settings.ingest_bus_max_queued)
    return FixBus(settings.ingest_bus_max_queued)


async def close_publisher(bus: FixBus | NatsFixPublisher) -> None:
    """Close a `fix_publisher`: the in-process bus at once (its consumer drains it), NATS's after sending
    what is queued (for at most `STOP_WAIT_S`)."""
    if isinstance(bus, FixBus):
        bus.close()
    else:
        await bus.close()


# --- the monitoring's side ------------------------------------------------------------------------


@dataclass(slots=True)
class Delivery:
    """Messages taken from the stream together: their fixes in order, the gaps among them (receipt
    windows whose fixes never reached the bus), and the stream position of the last one."""

    fixes: StoredFixes
    gaps: list[tuple[datetime, datetime, list[int] | None]]  # from, to, the movements (None: all)
    position: tuple[str, int]
    redelivered: int = 0  # messages delivered before (after a consumer died, or past the ack wait)
    _last: Msg | None = field(default=None, repr=False)

    async def ack(self) -> None:
        """Acknowledge every message up to the last of this delivery (call after its outcome is committed)."""
        if self._last is not None:
            await self._last.ack_sync(timeout=PUBLISH_TIMEOUT_S)


def _at(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


class NatsFixConsumer:
    """The monitoring's durable pull consumer of the stream (one process per consumer name)."""

    def __init__(self, config: NatsBusConfig) -> None:
        self.config = config
        self.through = 0  # the stream sequence every message up to which has been taken
        self.identity = ""  # the stream's name and creation time: a position is only good for it
        self.skipped = 0  # messages delivered again and skipped (at or before `through`)
        self.undecodable = 0
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start(self, stored: tuple[str, int] | None = None) -> None:
        """Connect (waiting for the server), make sure of the stream, and put the durable consumer after
        the position: the larger of `stored` (what the monitoring committed, if it was on this stream)
        and the consumer's acknowledgement floor."""
        attempt = 0
        while True:
            try:
                self._nc = await connect(self.config, f"tamga-monitoring-{self.config.consumer}")
                self._js = self._nc.jetstream(timeout=5.0)
                await ensure_stream(self._js, self.config)
                await self._position(stored)
                return
            except Exception as error:
                if self._nc is not None:
                    with contextlib.suppress(Exception):
                        await self._nc.close()
                    self._nc = None
                log.warning("fix bus (NATS) at %s: cannot consume yet (%s)", self.config.url, error)
                await asyncio.sleep(_retry_wait(attempt))
                attempt += 1

    async def _position(self, stored: tuple[str, int] | None) -> None:
        js, config = self._js, self.config
        assert js is not None
        stream = await js.stream_info(config.stream)
        self.identity = f"{config.stream}@{stream.created.isoformat() if stream.created else ''}"
        through = stored[1] if stored is not None and stored[0] == self.identity else 0
        if stored is not None and not through:
            log.warning("the stored bus position %s is of another stream; it is not used", stored)
        try:
            info = await js.consumer_info(config.stream, config.consumer)
        except nats.js.errors.NotFoundError:
            info = None
        floor = info.ack_floor.stream_seq if info is not None and info.ack_floor is not None else 0
        delivered = info.delivered.stream_seq if info is not None and info.delivered is not None else 0
        self.through = max(through, floor)
        if info is None or delivered != self.through or floor != self.through:
            # Delivered further than what was taken (a consumer died before committing), or taken further
            # than acknowledged: start again right after what was taken, so that nothing is skipped or
            # taken twice. (A consumer's start cannot be changed in place.)
            if info is not None:
                await js.delete_consumer(config.stream, config.consumer)
            start = (
                {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": self.through + 1}
                if self.through
                else {"deliver_policy": DeliverPolicy.ALL}
            )
            await js.add_consumer(
                config.stream,
                ConsumerConfig(
                    durable_name=config.consumer,
                    ack_policy=AckPolicy.ALL,
                    ack_wait=config.ack_wait_s,
                    filter_subject=config.subject,
                    max_deliver=-1,
                    **start,
                ),
            )
        self._sub = await js.pull_subscribe_bind(config.consumer, stream=config.stream)
        log.info(
            "fix bus (NATS): consuming %s as %s after position %d",
            config.stream,
            config.consumer,
            self.through,
        )

    async def oldest_received_at(self) -> datetime | None:
        """Give when the oldest fix of the next message to take was received (None when there is none):
        what was stored before it was taken before, or is not on the bus."""
        js = self._js
        assert js is not None
        state = (await js.stream_info(self.config.stream)).state
        seq = max(self.through + 1, state.first_seq)
        while seq <= state.last_seq:
            try:
                message = await js.get_msg(self.config.stream, seq)
            except nats.js.errors.NotFoundError:
                seq += 1
                continue
            try:
                if message.headers and message.headers.get(KIND_HEADER) == "gap":
                    return _at(int(orjson.loads(message.data or b"{}")["from_us"]))
                return bus_codec.oldest_received_at(message.data or b"")
            except (bus_codec.BusCodecError, orjson.JSONDecodeError, KeyError, ValueError):
                seq += 1
        return None

    async def deliveries(self, max_items: int = 5000, max_wait_s: float = 0.05) -> AsyncIterator[Delivery]:
        """Give deliveries of at least one message: as many as arrive within `max_wait_s` of the first, up
        to `max_items` fixes; until cancelled. A server that cannot be reached is waited for."""
        sub = self._sub
        assert sub is not None
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                messages = await sub.fetch(FETCH_MESSAGES, timeout=IDLE_FETCH_S)
            except TimeoutError:  # nothing to take (nats' own and asyncio's)
                continue
            except Exception as error:
                log.warning("fix bus (NATS): fetch failed (%s); retrying", error)
                await asyncio.sleep(_retry_wait(attempt))
                attempt += 1
                continue
            attempt = 0
            delivery = Delivery(StoredFixes(), [], (self.identity, self.through))
            self._take(delivery, messages)
            deadline = loop.time() + max_wait_s
            while len(delivery.fixes) < max_items and (remaining := deadline - loop.time()) > 0.001:
                try:
                    more = await sub.fetch(FETCH_MESSAGES, timeout=remaining)
                except Exception:
                    break
                self._take(delivery, more)
            if delivery._last is None:
                continue
            if not delivery.fixes and not delivery.gaps:
                await delivery.ack()  # only messages taken before, or unreadable ones
                continue
            yield delivery

    def _take(self, delivery: Delivery, messages: list[Msg]) -> None:
        for message in messages:
            meta = message.metadata
            seq = meta.sequence.stream
            delivery._last = message
            if meta.num_delivered > 1:
                delivery.redelivered += 1
            if seq <= self.through:
                self.skipped += 1
                continue
            self.through = seq
            delivery.position = (self.identity, seq)
            try:
                if message.headers and message.headers.get(KIND_HEADER) == "gap":
                    window = orjson.loads(message.data)
                    movements = window.get("movements")
                    delivery.gaps.append(
                        (
                            _at(int(window["from_us"])),
                            _at(int(window["to_us"])),
                            None if movements is None else [int(m) for m in movements],
                        )
                    )
                    continue
                for part in bus_codec.decode(message.data).parts:
                    delivery.fixes.add(part)
            except (bus_codec.BusCodecError, orjson.JSONDecodeError, KeyError, ValueError) as error:
                # Kept in the stream until its limits drop it; the fixes it carried are in the table.
                self.undecodable += 1
                log.error("fix bus (NATS): message %d of %s unreadable (%s)", seq, self.config.stream, error)

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None
