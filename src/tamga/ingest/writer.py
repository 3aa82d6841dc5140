"""Group commit: one writer per process stores what every device connection reported, many connections'
fixes in one transaction, and wakes each connection once its fixes are committed.

    outcome = await writer.store(reports)   # returns after the commit that stored them; then confirm

A connection hands its parsed reports to `store` and waits. The writer takes everything handed over
since its last commit (up to `max_fixes`; a submission is never split), stores it with one statement in
one transaction (`service.store_submissions`), commits, publishes the new fixes on the bus, and resolves
each submission with its own outcome. While one transaction is in flight the next group gathers, so the
group grows with the load and adds no wait when there is none.

The promises of a single connection's store stand: nothing is confirmed before the commit that stored
it; a duplicate, within a group or against the table, stores nothing; and a submission that makes its
group's transaction fail is found by storing the group's submissions one by one, so it fails alone
(its connection is cut and its device resends) while the others are stored. The writer never writes to
a socket: a connection that does not read its answers stalls only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Final

from tamga.ingest.bus import FixPublisher
from tamga.ingest.service import StoreOutcome, Submission, store_submissions, submission_size
from tamga.kit.clock import utcnow
from tamga.kit.db import Database, commit

log = logging.getLogger(__name__)

DEFAULT_MAX_FIXES: Final = 10_000


@dataclass(slots=True)
class WriterStats:
    """Counters of a writer since it started."""

    groups: int = 0
    submissions: int = 0
    fixes: int = 0
    stored: int = 0
    failed_groups: int = 0
    failed_submissions: int = 0


@dataclass(slots=True)
class _Submission:
    reports: Submission
    size: int
    future: asyncio.Future[StoreOutcome]


class FixWriter:
    """The process's one writer of fixes: `store` returns after the commit of a group that held them."""

    def __init__(self, db: Database, bus: FixPublisher, *, max_fixes: int = DEFAULT_MAX_FIXES) -> None:
        if max_fixes < 1:
            raise ValueError("a group holds at least one fix")
        self.db, self.bus, self.max_fixes = db, bus, max_fixes
        self.stats = WriterStats()
        self._pending: deque[_Submission] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def store(self, reports: Submission) -> StoreOutcome:
        """Store these reports (`Report`s, or `BlockReport`s of fixes as columns) with whatever else is
        waiting; give their outcome once committed.

        Raises what storing them raised when they cannot be stored (the others of the group are)."""
        if self._closed:
            raise RuntimeError("the fix writer is closed")
        if not reports:
            return StoreOutcome()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="fix-writer")
        future: asyncio.Future[StoreOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append(_Submission(reports, submission_size(reports), future))
        self._wake.set()
        return await future

    async def close(self) -> None:
        """Store what was handed over, then stop (later `store` calls raise)."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _take(self) -> list[_Submission]:
        group: list[_Submission] = []
        fixes = 0
        pending = self._pending
        while pending:
            head = pending[0]
            if head.future.done():  # its connection went away before it was taken
                pending.popleft()
                continue
            if group and fixes + head.size > self.max_fixes:
                break
            group.append(pending.popleft())
            fixes += head.size
        return group

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            group = self._take()
            if not self._pending:
                self._wake.clear()
            if group:
                await self._write(group)
            elif self._closed:
                return

    async def _write(self, group: list[_Submission]) -> None:
        stats = self.stats
        stats.groups += 1
        stats.submissions += len(group)
        stats.fixes += sum(s.size for s in group)
        try:
            await self._commit(group)
            return
        except Exception as error:
            if len(group) == 1:
                stats.failed_submissions += 1
                _fail(group[0], error)
                return
            stats.failed_groups += 1
            log.warning("a group of %d submissions failed (%s); storing them one by one", len(group), error)
        for submission in group:
            try:
                await self._commit([submission])
            except Exception as error:
                stats.failed_submissions += 1
                log.warning("a submission of %d fixes could not be stored: %s", submission.size, error)
                _fail(submission, error)

    async def _commit(self, group: list[_Submission]) -> None:
        async with self.db.session() as session:
            outcomes, stored = await store_submissions(session, [s.reports for s in group], utcnow())
            await commit(session)
        self.stats.stored += len(stored)
        self.bus.publish(stored)
        for submission, outcome in zip(group, outcomes, strict=True):
            if not submission.future.done():
                submission.future.set_result(outcome)


def _fail(submission: _Submission, error: Exception) -> None:
    if not submission.future.done():
        submission.future.set_exception(error)
