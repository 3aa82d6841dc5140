"""Monitoring's background work in a process: the bus consumer and the time tick, started and stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from tamga.config import Settings
from tamga.ingest.bus import FixBus
from tamga.kit.clock import utcnow
from tamga.kit.db import Database
from tamga.monitoring.service import AlarmHub, Monitor, run_monitor, run_time_checks


class MonitoringTasks:
    """The consumer of the fix bus and the periodic time check, sharing one `Monitor`.

    The consumer first rebuilds the engine's state from the stored fixes (`Monitor.rebuild`); `monitor.ready`
    is set once it consumes the bus. `clock` is the engine's time (an accelerated simulation gives its own).
    """

    def __init__(
        self,
        db: Database,
        bus: FixBus,
        settings: Settings,
        hub: AlarmHub,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.bus, self.settings = db, bus, settings
        self.monitor = Monitor(corridor_width_m=settings.monitoring_corridor_width_m, hub=hub, clock=clock)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start consuming the bus (after the rebuild) and ticking."""
        self._tasks = [
            asyncio.create_task(run_monitor(self.db, self.bus, self.settings, monitor=self.monitor)),
            asyncio.create_task(run_time_checks(self.db, self.settings, self.monitor)),
        ]

    async def stop(self) -> None:
        """Stop both (the consumer ends on its own once the bus is closed and drained)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
