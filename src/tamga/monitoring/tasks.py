"""Monitoring's background work in a process: the bus consumer and the time tick, and the relay of alarm
changes between processes, started and stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Final

from tamga.config import Settings
from tamga.ingest.bus import FixBus
from tamga.ingest.nats_bus import NatsFixConsumer
from tamga.kit import notify
from tamga.kit.clock import utcnow
from tamga.kit.db import Database
from tamga.monitoring.service import (
    AlarmChange,
    AlarmHub,
    Monitor,
    alarm_change,
    decode_change,
    encode_change,
    run_monitor,
    run_monitor_nats,
    run_time_checks,
)

log = logging.getLogger(__name__)

ALARM_CHANNEL: Final = "tamga_alarm_changes"
STOP_WAIT_S: Final = 5.0  # how long a stopping relay waits to send what is queued


class AlarmRelay:
    """Alarm changes between processes on PostgreSQL: those published in this process go to the other
    processes' live streams (NOTIFY, in order, after their commit; this process's hub has delivered them
    already), and with `listen` those of the other processes come to this process's hub (LISTEN).

    A change too large for a notification (a long comment) goes as its alarm's id, and each listener
    reads the alarm as it then is. If a notification cannot be sent, the other processes' streams miss
    it; a listener that lost its connection misses what was sent until it is back. The list
    (`GET /alarms`) is always complete: the stream is the live view of it."""

    def __init__(self, db: Database, hub: AlarmHub, *, listen: bool = True) -> None:
        self.db, self.hub, self.listen = db, hub, listen
        self.origin = uuid.uuid4().hex  # what this process's notifications carry, so it skips its own
        self.listening = asyncio.Event()
        self._outbox: asyncio.Queue[list[AlarmChange]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()  # the sender, the listener, reads of large changes

    @classmethod
    def for_database(cls, db: Database, hub: AlarmHub, *, listen: bool = True) -> AlarmRelay | None:
        """Give a relay for the hub on PostgreSQL (None on SQLite, a single process's database)."""
        return cls(db, hub, listen=listen) if db.dialect == "postgresql" else None

    def __call__(self, changes: list[AlarmChange]) -> None:
        self._outbox.put_nowait(changes)

    def start(self) -> None:
        """Relay the hub's changes from now on."""
        self.hub.relay = self
        self._spawn(self._send())
        if self.listen:
            self._spawn(
                notify.listen(self.db.engine, ALARM_CHANNEL, self._received, listening=self.listening)
            )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Send what is queued (for at most `STOP_WAIT_S`), then stop."""
        if self.hub.relay is self:
            self.hub.relay = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outbox.join(), STOP_WAIT_S)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send(self) -> None:
        while True:
            changes = await self._outbox.get()
            try:
                payloads = []
                for change in changes:
                    payload = encode_change(change, self.origin)
                    if not notify.fits(payload):
                        payload = json.dumps(
                            {"origin": self.origin, "action": change.action, "alarm_id": change.alarm.id}
                        )
                    payloads.append(payload)
                await notify.notify(self.db.engine, ALARM_CHANNEL, payloads)
            except Exception:
                log.exception("could not relay %d alarm changes to the other processes", len(changes))
            finally:
                self._outbox.task_done()

    def _received(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            if data.get("origin") == self.origin:
                return  # this process's own: its hub delivered it when it was published
            if "alarm_id" in data:
                self._spawn(self._read(int(data["alarm_id"]), str(data["action"])))
                return
            self.hub.deliver([decode_change(payload)])
        except Exception:
            log.exception("an alarm change relayed from another process could not be read")

    async def _read(self, alarm_id: int, action: str) -> None:
        async with self.db.session() as session:
            change = await alarm_change(session, alarm_id, action)
        if change is not None:
            self.hub.deliver([change])


class MonitoringTasks:
    """The consumer of the fix bus (in-process, or NATS JetStream's durable consumer) and the periodic
    time check, sharing one `Monitor`.

    The consumer first rebuilds the engine's state from the stored fixes (`Monitor.rebuild`); `monitor.ready`
    is set once it consumes the bus. `clock` is the engine's time (an accelerated simulation gives its own).
    """

    def __init__(
        self,
        db: Database,
        bus: FixBus | NatsFixConsumer,
        settings: Settings,
        hub: AlarmHub,
        *,
        clock: Callable[[], datetime] = utcnow,
        relay: AlarmRelay | None = None,
    ) -> None:
        self.db, self.bus, self.settings, self.relay = db, bus, settings, relay
        self.monitor = Monitor(corridor_width_m=settings.monitoring_corridor_width_m, hub=hub, clock=clock)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start consuming the bus (after the rebuild) and ticking (and the `relay`, when given)."""
        if self.relay is not None:
            self.relay.start()
        consuming = (
            run_monitor(self.db, self.bus, self.settings, monitor=self.monitor)
            if isinstance(self.bus, FixBus)
            else run_monitor_nats(self.db, self.bus, self.settings, monitor=self.monitor)
        )
        self._tasks = [
            asyncio.create_task(consuming),
            asyncio.create_task(run_time_checks(self.db, self.settings, self.monitor)),
        ]

    async def stop(self) -> None:
        """Stop both (the in-process consumer ends on its own once the bus is closed and drained; the NATS
        consumer is cancelled: what it took and did not acknowledge is delivered again)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.relay is not None:
            await self.relay.stop()
