"""Taxation's background work in a process: the register sender and the daily deadline tick."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tamga.config import Settings
from tamga.kit.db import Database, commit
from tamga.taxation.exchange import send_pending
from tamga.taxation.service import apply_deadlines

log = logging.getLogger(__name__)


def exchange_configured(settings: Settings) -> bool:
    """Tell whether this node has what it needs to send registers (node, key, peer URL and key)."""
    return bool(
        settings.tax_node
        and settings.tax_private_key_path
        and settings.tax_peer_url
        and settings.tax_peer_public_key
    )


class TaxTasks:
    """The sender (when the exchange is configured) and the deadline tick, each a loop until stopped."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the loops."""
        self._tasks = [asyncio.create_task(self._every(self.settings.tax_deadlines_tick_s, self._deadlines))]
        if exchange_configured(self.settings):
            self._tasks.append(
                asyncio.create_task(self._every(self.settings.tax_send_interval_s, self._send))
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _send(self) -> None:
        await send_pending(self.db, self.settings)

    async def _deadlines(self) -> None:
        async with self.db.session() as session:
            await apply_deadlines(session)
            await commit(session)

    @staticmethod
    async def _every(interval_s: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed round is logged and tried again next round
                log.exception("taxation task failed")
            await asyncio.sleep(interval_s)
