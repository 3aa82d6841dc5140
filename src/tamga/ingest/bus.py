"""The in-process monitoring bus: newly stored fixes, in batches, for the monitoring engine.

    bus.publish(stored)                                   # after the fixes were committed
    async for batch in bus.batches(max_items=5000, max_wait_s=0.5):
        ...                                               # a list of StoredFix, in publication order

Only fixes that were new to the `fixes` table are published (a retransmission publishes nothing), each
batch of a publisher in time order. The table is the record and the bus a feed: when no consumer keeps
up and `max_queued` fixes wait, the oldest are dropped and counted in `overflowed` (a consumer that falls
behind catches up from the table), so a slow consumer never stalls the devices.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime

from tamga.ingest.fix import Fix
from tamga.ingest.profiles import SealState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredFix:
    """A fix as stored: the seal that sent it, the movement it served then, the seal state it reported.

    `state` is the seal state read through the device profile (EGTS, Wialon IPS) or given by the device
    (MQTT, HTTP JSON); it is what the `fixes` row holds.
    """

    seal_id: int
    movement_id: int | None
    protocol: str
    received_at: datetime
    fix: Fix
    state: SealState


class FixBus:
    """A bounded in-process queue of stored fixes with a batch consumer API."""

    def __init__(self, max_queued: int = 200_000) -> None:
        if max_queued < 1:
            raise ValueError("the bus must hold at least one fix")
        self.max_queued = max_queued
        self.published = 0
        self.overflowed = 0
        self._queue: deque[StoredFix] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def oldest_received_at(self) -> datetime | None:
        """Give when the oldest fix still queued was received (None when none is): every fix stored
        before it has been taken by a consumer, or was stored by an earlier process."""
        return self._queue[0].received_at if self._queue else None

    def publish(self, fixes: Iterable[StoredFix]) -> None:
        """Queue fixes for the consumers; never waits (the oldest are dropped past `max_queued`)."""
        queue = self._queue
        added = 0
        for fix in fixes:
            queue.append(fix)
            added += 1
        if not added:
            return
        self.published += added
        excess = len(queue) - self.max_queued
        if excess > 0:
            for _ in range(excess):
                queue.popleft()
            before, self.overflowed = self.overflowed, self.overflowed + excess
            if not before or before // self.max_queued != self.overflowed // self.max_queued:
                log.warning("monitoring bus full: %d oldest fixes dropped so far", self.overflowed)
        self._ready.set()

    def close(self) -> None:
        """End every `batches` iteration once what is queued has been handed out."""
        self._closed = True
        self._ready.set()

    def _take(self, limit: int) -> list[StoredFix]:
        queue = self._queue
        count = min(limit, len(queue))
        batch = [queue.popleft() for _ in range(count)]
        if queue or self._closed:
            self._ready.set()
        else:
            self._ready.clear()
        return batch

    async def batches(self, max_items: int = 5000, max_wait_s: float = 0.5) -> AsyncIterator[list[StoredFix]]:
        """Give batches of at most `max_items` fixes: a batch is handed out when full, or `max_wait_s`
        after its first fix arrived, whichever comes first; the iteration ends when the bus is closed
        and drained."""
        if max_items < 1 or max_wait_s < 0:
            raise ValueError("max_items must be positive and max_wait_s not negative")
        loop = asyncio.get_running_loop()
        while True:
            await self._ready.wait()
            if not self._queue:
                if self._closed:
                    return
                self._ready.clear()
                continue
            deadline = loop.time() + max_wait_s
            while len(self._queue) < max_items and not self._closed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._ready.clear()
                try:
                    await asyncio.wait_for(self._ready.wait(), remaining)
                except TimeoutError:
                    break
            yield self._take(max_items)
