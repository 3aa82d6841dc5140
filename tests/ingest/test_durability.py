"""A record confirmed to a terminal is durable: `tamga ingest` (the real CLI, in its own process) takes a
100,000-fix EGTS upload, is killed with SIGKILL in the middle, and restarted; every fix confirmed before
the kill is stored, none twice, and after the terminal resends what was not confirmed the total is exact.

Runs on the backend's database: a file SQLite database, and PostgreSQL when configured.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.conftest import Backend
from tests.ingest.devices import EgtsClient, record_results, register_seal, result_code
from tests.support.ingest_process import Server, free_port

from tamga.ingest import store
from tamga.ingest.egts import ResultCode, encode_auth_packet, encode_position_packet
from tamga.ingest.fix import Fix

TOTAL = 100_000
PER_PACKET = 1_000
WINDOW = 6  # packets in flight before waiting for a confirmation
KILL_AFTER = 35_000  # confirmed fixes
T0 = datetime(2026, 2, 1, tzinfo=UTC)
TERMINAL_ID = 770001


def upload(device_id: str) -> list[Fix]:
    """A day and more of fixes every second; record numbers wrap at 65,536 as a terminal's do."""
    return [
        Fix(
            device_id=device_id,
            record_id=i & 0xFFFF,
            time=T0 + timedelta(seconds=i),
            lat=52.0 + (i % 5000) * 1e-4,
            lon=23.7 + (i % 7000) * 1e-4,
            speed_kmh=float(i % 90),
            course=i % 360,
            from_black_box=True,
        )
        for i in range(TOTAL)
    ]


@pytest.fixture
def server_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "ingest.log"
    yield log


async def send_all(
    client: EgtsClient, fixes: list[Fix], indices: list[int], confirmed: set[int], stop_at: int | None
) -> None:
    """Send the fixes at `indices` in packets, a window of them in flight; record each confirmed index.

    Returns when every packet was answered, or (with `stop_at`) once that many fixes are confirmed.
    """
    packets = [indices[i : i + PER_PACKET] for i in range(0, len(indices), PER_PACKET)]
    by_pid: dict[int, dict[int, int]] = {}
    answered = 0
    sent = 0
    while answered < len(packets):
        while sent < len(packets) and sent - answered < WINDOW:
            chunk = packets[sent]
            pid = (sent + 2) & 0xFFFF
            by_pid[pid] = {fixes[i].record_id or 0: i for i in chunk}
            await client.send(encode_position_packet(pid, TERMINAL_ID, [fixes[i] for i in chunk]))
            sent += 1
        response = await client.response(wait_s=60)
        assert response.response_to_pid is not None and response.result == ResultCode.OK
        numbers = by_pid.pop(response.response_to_pid)
        for number, result in record_results(response):
            assert result == ResultCode.OK
            confirmed.add(numbers[number])
        answered += 1
        if stop_at is not None and len(confirmed) >= stop_at:
            return


async def authenticate(port: int, device_id: str) -> EgtsClient:
    client = await EgtsClient.connect(port)
    await client.send(encode_auth_packet(1, TERMINAL_ID, imei=device_id))
    assert record_results(await client.response()) == [(0, ResultCode.OK)]
    assert result_code(await client.packet()) == ResultCode.OK
    return client


async def test_confirmed_fixes_survive_sigkill_and_none_is_stored_twice(
    backend: Backend, server_log: Path
) -> None:
    seal = await register_seal(backend.db)
    fixes = upload(seal.device_id)
    server = Server(backend.url, free_port(), server_log)
    server.start()
    try:
        await server.ready()
        client = await authenticate(server.port, seal.device_id)
        confirmed: set[int] = set()

        # Keep uploading while the server is killed: the terminal goes on until its connection drops.
        async def upload_until_killed() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                await send_all(client, fixes, list(range(TOTAL)), confirmed, stop_at=None)

        uploading = asyncio.ensure_future(upload_until_killed())
        while len(confirmed) < KILL_AFTER:
            assert not uploading.done(), "the upload ended before the kill"
            await asyncio.sleep(0.01)
        server.kill()
        await asyncio.wait_for(uploading, 30)
        await client.close()
        assert KILL_AFTER <= len(confirmed) < TOTAL, "the kill came too late to test anything"

        # Every confirmed fix is stored; nothing is stored twice.
        async with backend.db.session() as session:
            keys = {(seal.device_id, fixes[i].time, fixes[i].record_id or 0) for i in confirmed}
            assert await store.stored_keys(session, keys) == keys
            stored_after_kill = await store.count_fixes(session, seal.device_id)
            distinct = (
                await session.execute(
                    text("SELECT count(DISTINCT time) FROM fixes WHERE device_id = :d"), {"d": seal.device_id}
                )
            ).scalar_one()
        assert stored_after_kill == distinct >= len(confirmed)

        # Restarted, the terminal resends what it holds unconfirmed (some of it was stored, not confirmed).
        server.start()
        await server.ready()
        client = await authenticate(server.port, seal.device_id)
        unconfirmed = [i for i in range(TOTAL) if i not in confirmed]
        await send_all(client, fixes, unconfirmed, confirmed, stop_at=None)
        await client.close()
        assert len(confirmed) == TOTAL
        async with backend.db.session() as session:
            assert await store.count_fixes(session, seal.device_id) == TOTAL
    finally:
        server.stop()
