"""The in-process monitoring bus: newly stored fixes, in batches, for the monitoring engine.

    bus.publish(stored)                                   # after the fixes were committed
    async for batch in bus.batches(max_items=5000, max_wait_s=0.5):
        ...                                               # StoredFixes (a sequence of StoredFix), in order

Only fixes that were new to the `fixes` table are published (a retransmission publishes nothing), each
batch of a publisher in time order. The table is the record and the bus a feed: when no consumer keeps
up and `max_queued` fixes wait, the oldest are dropped and counted in `overflowed` (a consumer that falls
behind catches up from the table), so a slow consumer never stalls the devices.

Fixes a gateway decoded as columns (`fix.FixBlock`) travel as `StoredBlock`s: a sequence of `StoredFix`
that builds each one only when it is asked for, and whose columns a consumer can read directly (`parts`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, overload

from tamga.ingest.fix import Fix, FixBlock
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


class StoredBlock(Sequence[StoredFix]):
    """Entries of one `FixBlock` as stored (one seal, movement, protocol and receipt): the block's entries
    `rows`, in the order stored, each with the seal state it reported (`states`, aligned with `rows`)."""

    __slots__ = ("block", "movement_id", "protocol", "received_at", "rows", "seal_id", "states")

    def __init__(
        self,
        seal_id: int,
        movement_id: int | None,
        protocol: str,
        received_at: datetime,
        block: FixBlock,
        rows: Sequence[int],
        states: Sequence[SealState],
    ) -> None:
        self.seal_id, self.movement_id, self.protocol = seal_id, movement_id, protocol
        self.received_at, self.block, self.rows, self.states = received_at, block, rows, states

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> StoredFix: ...

    @overload
    def __getitem__(self, index: slice) -> StoredBlock: ...

    def __getitem__(self, index: int | slice) -> StoredFix | StoredBlock:
        if isinstance(index, slice):
            return StoredBlock(
                self.seal_id,
                self.movement_id,
                self.protocol,
                self.received_at,
                self.block,
                self.rows[index],
                self.states[index],
            )
        return StoredFix(
            self.seal_id,
            self.movement_id,
            self.protocol,
            self.received_at,
            self.block.fix(self.rows[index]),
            self.states[index],
        )

    def __iter__(self) -> Iterator[StoredFix]:
        for k in range(len(self.rows)):
            yield self[k]


Part = StoredFix | StoredBlock
"""What a `StoredFixes` is made of: single fixes and blocks."""


def _size(part: Part) -> int:
    return len(part) if isinstance(part, StoredBlock) else 1


def _fixes_of(parts: Iterable[Part]) -> Iterator[StoredFix]:
    """The fixes of parts, one by one, in order."""
    for part in parts:
        if isinstance(part, StoredBlock):
            yield from part
        else:
            yield part


class StoredFixes(Sequence[StoredFix]):
    """Stored fixes in order, kept as they came: single `StoredFix`es and `StoredBlock`s (`parts`)."""

    __slots__ = ("_length", "parts")

    def __init__(self, parts: Iterable[Part] = ()) -> None:
        self.parts: list[Part] = []
        self._length = 0
        for part in parts:
            self.add(part)

    def add(self, part: Part) -> None:
        """Append a fix or a block (an empty block adds nothing)."""
        size = _size(part)
        if size:
            self.parts.append(part)
            self._length += size

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[StoredFix]:
        return _fixes_of(self.parts)

    @overload
    def __getitem__(self, index: int) -> StoredFix: ...

    @overload
    def __getitem__(self, index: slice) -> list[StoredFix]: ...

    def __getitem__(self, index: int | slice) -> StoredFix | list[StoredFix]:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("stored fix index out of range")
        for part in self.parts:
            if isinstance(part, StoredBlock):
                if index < len(part):
                    return part[index]
                index -= len(part)
            elif index == 0:
                return part
            else:
                index -= 1
        raise IndexError("stored fix index out of range")  # pragma: no cover - the length says otherwise


class _Queue:
    """The bus's queue: a deque of parts (single fixes and blocks) that counts, hands out and takes back
    fixes one by one (`popleft`, `extend`, iteration) and takes whole parts for a batch (`take`)."""

    __slots__ = ("_count", "_parts")

    def __init__(self) -> None:
        self._parts: deque[Part] = deque()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[StoredFix]:
        return _fixes_of(self._parts)

    def oldest_received_at(self) -> datetime | None:
        return self._parts[0].received_at if self._parts else None

    def add(self, part: Part) -> None:
        size = _size(part)
        if size:
            self._parts.append(part)
            self._count += size

    def extend(self, fixes: Iterable[StoredFix]) -> None:
        for fix in fixes:
            self.add(fix)

    def popleft(self) -> StoredFix:
        head = self._parts[0]
        self._count -= 1
        if not isinstance(head, StoredBlock):
            self._parts.popleft()
            return head
        if len(head) == 1:
            self._parts.popleft()
        else:
            self._parts[0] = head[1:]
        return head[0]

    def take(self, limit: int) -> StoredFixes:
        """The oldest `limit` fixes (or fewer), as parts (a block is split where the limit falls)."""
        parts = self._parts
        batch = StoredFixes()
        room = limit
        while parts and room:
            head = parts[0]
            if isinstance(head, StoredBlock) and len(head) > room:
                batch.add(head[:room])
                parts[0] = head[room:]
                room = 0
            else:
                batch.add(parts.popleft())
                room -= _size(head)
        self._count -= len(batch)
        return batch


class FixPublisher(Protocol):
    """Where a gateway puts what it stored: the in-process `FixBus`, or `nats_bus.NatsFixPublisher`."""

    def publish(self, fixes: Iterable[StoredFix]) -> None:
        """Hand over newly committed fixes for the monitoring; never waits."""


class FixBus:
    """A bounded in-process queue of stored fixes with a batch consumer API."""

    def __init__(self, max_queued: int = 200_000) -> None:
        if max_queued < 1:
            raise ValueError("the bus must hold at least one fix")
        self.max_queued = max_queued
        self.published = 0
        self.overflowed = 0
        self._queue = _Queue()
        self._ready = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def oldest_received_at(self) -> datetime | None:
        """Give when the oldest fix still queued was received (None when none is): every fix stored
        before it has been taken by a consumer, or was stored by an earlier process."""
        return self._queue.oldest_received_at()

    def publish(self, fixes: Iterable[StoredFix]) -> None:
        """Queue fixes for the consumers; never waits (the oldest are dropped past `max_queued`).

        A `StoredFixes` is queued as its parts: its blocks stay blocks."""
        queue = self._queue
        before_count = len(queue)
        parts: Iterable[Part] = fixes.parts if isinstance(fixes, StoredFixes) else fixes
        for part in parts:
            queue.add(part)
        added = len(queue) - before_count
        if not added:
            return
        self.published += added
        excess = len(queue) - self.max_queued
        if excess > 0:
            queue.take(excess)
            before, self.overflowed = self.overflowed, self.overflowed + excess
            if not before or before // self.max_queued != self.overflowed // self.max_queued:
                log.warning("monitoring bus full: %d oldest fixes dropped so far", self.overflowed)
        self._ready.set()

    def close(self) -> None:
        """End every `batches` iteration once what is queued has been handed out."""
        self._closed = True
        self._ready.set()

    def _take(self, limit: int) -> StoredFixes:
        batch = self._queue.take(limit)
        if self._queue or self._closed:
            self._ready.set()
        else:
            self._ready.clear()
        return batch

    async def batches(self, max_items: int = 5000, max_wait_s: float = 0.5) -> AsyncIterator[StoredFixes]:
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
