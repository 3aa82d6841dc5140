"""What the TCP device gateways share: a server, one task per connection, and the limits that cut a
connection without touching the others.

A connection is cut when it stalls (nothing read, or its answers not taken, for `idle_timeout_s`), when
it floods (more than `max_buffered_bytes` undecoded, a frame or line over `max_message_bytes`, or
messages faster than `max_messages_per_s` beyond a burst of `message_burst`), when it sends garbage
(`max_decode_errors` undecodable messages, or a stream that cannot be resynchronised), or when the
device is refused. Each cut is counted by reason in `GatewayStats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from tamga.config import Settings
from tamga.ingest.bus import FixPublisher
from tamga.ingest.service import StoreOutcome, Submission
from tamga.ingest.writer import FixWriter
from tamga.kit.db import Database

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
CutReason = Literal["idle", "flood", "garbage", "refused"]


@dataclass(frozen=True, slots=True)
class Limits:
    """The per-connection limits of a gateway (see the module docstring)."""

    idle_timeout_s: float = 900.0
    max_buffered_bytes: int = 2 * 1024 * 1024
    max_message_bytes: int = 1024 * 1024
    max_messages_per_s: float = 50.0
    message_burst: int = 500
    max_decode_errors: int = 5

    @classmethod
    def from_settings(cls, settings: Settings, max_message_bytes: int) -> Limits:
        return cls(
            idle_timeout_s=settings.ingest_idle_timeout_s,
            max_buffered_bytes=settings.ingest_max_buffered_bytes,
            max_message_bytes=max_message_bytes,
            max_messages_per_s=settings.ingest_max_messages_per_s,
            message_burst=settings.ingest_message_burst,
            max_decode_errors=settings.ingest_max_decode_errors,
        )


@dataclass(slots=True)
class GatewayStats:
    """Counters of one gateway since it started."""

    connections: int = 0
    active: int = 0
    messages: int = 0
    decode_errors: int = 0
    stored: int = 0
    duplicates: int = 0
    cuts: Counter[str] = field(default_factory=Counter)


class Cut(Exception):
    """End this connection, for a counted reason."""

    def __init__(self, reason: CutReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Ingest:
    """Where the gateways put what devices report: the database (through the process's one group-commit
    writer), then the monitoring bus."""

    def __init__(self, db: Database, bus: FixPublisher) -> None:
        self.db = db
        self.bus = bus
        self.writer = FixWriter(db, bus)

    async def persist(self, reports: Submission) -> StoreOutcome:
        """Store the reports (with other connections' in one transaction), commit, publish the new fixes.

        Returns only once the fixes are committed: the caller confirms to the device after this.
        """
        return await self.writer.store(reports)

    async def close(self) -> None:
        """Store what is handed over, then refuse more."""
        await self.writer.close()


class _TokenBucket:
    __slots__ = ("capacity", "last", "rate", "tokens")

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate, self.capacity = rate, float(max(capacity, 1))
        self.tokens, self.last = self.capacity, now

    def take(self, count: int, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= count
        return self.tokens >= 0


class Connection:
    """One device connection: reads with the idle limit, writes with it too, counts against the limits."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limits: Limits, stats: GatewayStats
    ) -> None:
        self.reader, self.writer, self.limits, self.stats = reader, writer, limits, stats
        self.peer = str(writer.get_extra_info("peername"))
        self.decode_errors = 0
        self._loop = asyncio.get_running_loop()
        self._bucket = _TokenBucket(limits.max_messages_per_s, limits.message_burst, self._loop.time())

    async def read(self) -> bytes:
        """The next bytes from the device; b"" when it closed; `Cut` when it was silent too long."""
        try:
            async with asyncio.timeout(self.limits.idle_timeout_s):  # a timer, not a task per read
                return await self.reader.read(READ_SIZE)
        except TimeoutError:
            raise Cut("idle", f"nothing received for {self.limits.idle_timeout_s} s") from None

    async def send(self, data: bytes) -> None:
        """Write to the device; `Cut` when it does not take its answers within the idle limit."""
        if not data:
            return
        writer = self.writer
        writer.write(data)
        if not writer.transport.get_write_buffer_size():
            # All sent: drain() cannot wait (it only raises if the connection was lost).
            await writer.drain()
            return
        try:
            async with asyncio.timeout(self.limits.idle_timeout_s):
                await writer.drain()
        except TimeoutError:
            raise Cut("idle", "the device does not read its answers") from None

    def check_buffered(self, size: int) -> None:
        if size > self.limits.max_buffered_bytes:
            raise Cut("flood", f"{size} bytes buffered undecoded")

    def check_message_size(self, size: int) -> None:
        if size > self.limits.max_message_bytes:
            raise Cut("flood", f"a message of {size} bytes, over {self.limits.max_message_bytes}")

    def count_messages(self, count: int) -> None:
        """Count received messages against the rate limit."""
        self.stats.messages += count
        if not self._bucket.take(count, self._loop.time()):
            raise Cut("flood", f"over {self.limits.max_messages_per_s} messages/s")

    def count_decode_errors(self, count: int) -> None:
        """Count undecodable messages; `Cut` once there were too many on this connection."""
        if not count:
            return
        self.decode_errors += count
        self.stats.decode_errors += count
        if self.decode_errors >= self.limits.max_decode_errors:
            raise Cut("garbage", f"{self.decode_errors} undecodable messages")


class TcpGateway(ABC):
    """A TCP server for one device protocol: `serve` runs one connection until it ends or is cut."""

    name: ClassVar[str]

    def __init__(self, ingest: Ingest, limits: Limits, host: str, port: int) -> None:
        self.ingest, self.limits, self.host, self.requested_port = ingest, limits, host, port
        self.stats = GatewayStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port listened on (the one the OS chose when asked for 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError(f"the {self.name} gateway is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.requested_port)
        log.info("%s gateway listening on %s:%d", self.name, self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and end every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.connections += 1
        self.stats.active += 1
        conn = Connection(reader, writer, self.limits, self.stats)
        try:
            await self.serve(conn)
        except Cut as cut:
            self.stats.cuts[cut.reason] += 1
            log.info("%s: cut %s (%s)", self.name, conn.peer, cut)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            # Nothing unconfirmed is lost: the device keeps what was not confirmed and sends it again.
            log.exception("%s: connection %s failed", self.name, conn.peer)
        finally:
            self.stats.active -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)

    @abstractmethod
    async def serve(self, conn: Connection) -> None:
        """Run the protocol on one connection until the device closes it (raise `Cut` to end it)."""
