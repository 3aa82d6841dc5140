"""Notifications between processes on PostgreSQL: NOTIFY on a channel, LISTEN with a callback.

For what every process must hear at once and nothing must store (the live alarm stream): a payload is
delivered to every connection listening on the channel when the sender's statement commits, in the
order sent; a listener that is down meanwhile misses it. Payloads are text of at most `MAX_PAYLOAD`
bytes (PostgreSQL's limit is 8000).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

import asyncpg
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from tamga.kit.db import autocommit, driver_connect_args

log = logging.getLogger(__name__)

MAX_PAYLOAD: Final = 7999
RECONNECT_S: Final = 1.0
# pg_notify in order, in one statement (WITH ORDINALITY keeps the array's order)
_NOTIFY: Final = (
    "SELECT pg_notify($1::text, p) FROM unnest($2::text[]) WITH ORDINALITY AS t (p, n) ORDER BY n"
)


def fits(payload: str) -> bool:
    """Tell whether a payload is small enough to send."""
    return len(payload.encode()) <= MAX_PAYLOAD


async def notify(engine: AsyncEngine | Engine, channel: str, payloads: Sequence[str]) -> None:
    """Send payloads on a channel, in order, in one autocommitted statement (a side connection)."""
    too_long = [p for p in payloads if not fits(p)]
    if too_long:
        raise ValueError(f"{len(too_long)} payloads over {MAX_PAYLOAD} bytes")
    async with autocommit(engine) as conn:
        if conn is None:
            raise RuntimeError("notifications need PostgreSQL")
        await conn.execute(_NOTIFY, channel, list(payloads))


async def listen(
    engine: AsyncEngine,
    channel: str,
    on_payload: Callable[[str], None],
    *,
    listening: asyncio.Event | None = None,
) -> None:
    """Call `on_payload` with every payload sent on the channel until cancelled, on a connection of its
    own, connecting again after a loss (what was sent meanwhile is missed). `listening` is set while the
    LISTEN is in place."""
    while True:
        try:
            await _listen_until_lost(engine, channel, on_payload, listening)
            log.warning("the listener on %s lost its connection; connecting again", channel)
        except Exception as error:  # the server down or refusing, a timeout: try again (cancelling ends it)
            log.warning("cannot listen on %s (%s); trying again in %.0f s", channel, error, RECONNECT_S)
        await asyncio.sleep(RECONNECT_S)


async def _listen_until_lost(
    engine: AsyncEngine, channel: str, on_payload: Callable[[str], None], listening: asyncio.Event | None
) -> None:
    lost = asyncio.Event()
    conn: Any = await asyncpg.connect(**driver_connect_args(engine))
    try:
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(channel, lambda _conn, _pid, _channel, payload: on_payload(payload))
        if listening is not None:
            listening.set()
        await lost.wait()
    finally:
        if listening is not None:
            listening.clear()
        if not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.close(timeout=5))
