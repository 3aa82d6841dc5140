"""The EGTS gateway on a real socket, on each database: authentication, positions, a black box, a
retransmission, refusals on the wire, and connections cut for garbage, floods and stalls."""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from tests.conftest import Backend
from tests.ingest.devices import EgtsClient, record_results, register_seal, result_code, track

from tamga.ingest import store
from tamga.ingest.bus import FixBus, StoredFix
from tamga.ingest.egts import ResultCode, encode_auth_packet, encode_packet, encode_position_packet
from tamga.ingest.gateways import Gateways

IDLE_S = 1.5


@pytest.fixture(scope="module")
async def gateways(backend: Backend) -> AsyncIterator[Gateways]:
    settings = backend.settings.model_copy(
        update={
            "egts_port": 0,
            "wialon_enabled": False,
            "mqtt_url": None,
            "ingest_idle_timeout_s": IDLE_S,
            "ingest_max_decode_errors": 3,
            "ingest_max_frame_bytes": 16 * 1024,
        }
    )
    running = Gateways(settings, backend.db, FixBus())
    await running.start()
    yield running
    await running.stop()


def port(gateways: Gateways) -> int:
    assert gateways.egts is not None
    return gateways.egts.port


def drain(bus: FixBus, device_id: str) -> list[StoredFix]:
    """What the bus holds for one device, taken off it (other tests' fixes are put back in order)."""
    taken = [bus._queue.popleft() for _ in range(len(bus))]
    mine = [s for s in taken if s.fix.device_id == device_id]
    bus._queue.extend(s for s in taken if s.fix.device_id != device_id)
    return mine


async def authenticated(gateways: Gateways, device_id: str, terminal_id: int) -> EgtsClient:
    client = await EgtsClient.connect(port(gateways))
    await client.send(encode_auth_packet(1, terminal_id, imei=device_id))
    response = await client.response()
    assert response.response_to_pid == 1 and response.result == ResultCode.OK
    assert record_results(response) == [(0, ResultCode.OK)]
    assert result_code(await client.packet()) == ResultCode.OK
    return client


async def test_positions_black_box_and_retransmission_are_stored_once(
    backend: Backend, gateways: Gateways
) -> None:
    seal = await register_seal(backend.db)
    tid = random.randrange(1, 2**32)
    client = await authenticated(gateways, seal.device_id, tid)
    live = track(seal.device_id, 20, start=datetime(2026, 3, 1, 10, 0, tzinfo=UTC), first_record=100)
    packet = encode_position_packet(2, tid, live)
    await client.send(packet)
    response = await client.response()
    assert response.response_to_pid == 2 and response.result == ResultCode.OK
    assert record_results(response) == [(f.record_id, ResultCode.OK) for f in live]
    bus = gateways.ingest.bus
    published = drain(bus, seal.device_id)
    assert [s.fix.record_id for s in published] == [f.record_id for f in live]

    # A black box from the morning, sent newest first after the live fixes: stored, published in time order.
    morning = track(seal.device_id, 30, start=datetime(2026, 3, 1, 6, 0, tzinfo=UTC), first_record=10)
    boxed = [replace(f, from_black_box=True) for f in reversed(morning)]
    await client.send(encode_position_packet(3, tid, boxed))
    assert all(r == ResultCode.OK for _, r in record_results(await client.response()))
    published = drain(bus, seal.device_id)
    assert [s.fix.time for s in published] == [f.time for f in morning]
    assert all(s.fix.from_black_box for s in published)

    # The same packet again (a lost RESPONSE): confirmed again, stored and published nothing.
    await client.send(packet)
    response = await client.response()
    assert record_results(response) == [(f.record_id, ResultCode.OK) for f in live]
    assert drain(bus, seal.device_id) == []
    await client.close()

    async with backend.db.session() as session:
        rows = await store.fixes_of_device(session, seal.device_id)
    assert len(rows) == 50
    assert len({(r.time, r.record_id) for r in rows}) == 50
    first_live = next(r for r in rows if r.record_id == 100)
    assert first_live.time == live[0].time
    assert first_live.lat == pytest.approx(live[0].lat, abs=1e-6)
    assert first_live.lon == pytest.approx(live[0].lon, abs=1e-6)
    assert first_live.speed_kmh == pytest.approx(60.0)
    assert first_live.course == 80
    assert first_live.valid and not first_live.black_box and first_live.protocol == "egts"
    # Inputs and battery read through the generic EGTS seal profile: armed, closed, 3.9 V.
    assert (first_live.armed, first_live.opened, first_live.tampered) == (True, False, False)
    assert first_live.battery_v == pytest.approx(3.9) and first_live.low_battery is False
    assert sum(r.black_box for r in rows) == 30


async def test_movement_at_receipt_is_stamped(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db)
    tid = random.randrange(1, 2**32)
    client = await authenticated(gateways, seal.device_id, tid)
    await client.send(encode_position_packet(2, tid, track(seal.device_id, 2)))
    await client.response()
    await client.close()
    async with backend.db.session() as session:
        rows = await store.fixes_of_device(session, seal.device_id)
    assert [r.movement_id for r in rows] == [None, None]  # the seal serves no movement


async def test_unknown_terminal_is_refused_and_closed(gateways: Gateways) -> None:
    client = await EgtsClient.connect(port(gateways))
    await client.send(encode_auth_packet(7, 123456, imei="999999999999999"))
    response = await client.response()
    assert response.response_to_pid == 7
    assert record_results(response) == [(0, ResultCode.AUTH_DENIED)]
    assert result_code(await client.packet()) == ResultCode.AUTH_DENIED
    assert await client.closed()


async def test_seal_of_another_protocol_cannot_be_opened_by_identity(
    backend: Backend, gateways: Gateways
) -> None:
    wialon_seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    client = await EgtsClient.connect(port(gateways))
    await client.send(encode_auth_packet(1, 42, imei=wialon_seal.device_id))
    assert record_results(await client.response()) == [(0, ResultCode.AUTH_DENIED)]
    assert await client.closed()


async def test_decommissioned_seal_is_refused(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db, status="decommissioned")
    client = await EgtsClient.connect(port(gateways))
    await client.send(encode_auth_packet(1, 42, imei=seal.device_id))
    assert record_results(await client.response()) == [(0, ResultCode.AUTH_DENIED)]
    assert await client.closed()


async def test_positions_before_authentication_are_refused(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db)
    client = await EgtsClient.connect(port(gateways))
    await client.send(encode_position_packet(1, 5, track(seal.device_id, 3)))
    response = await client.response()
    assert record_results(response)[0] == (0, ResultCode.AUTH_DENIED)
    assert await client.closed()
    async with backend.db.session() as session:
        assert await store.count_fixes(session, seal.device_id) == 0


async def test_a_terminal_reports_only_for_its_own_object(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db)
    client = await authenticated(gateways, seal.device_id, 1000)
    await client.send(encode_position_packet(2, 2000, track(seal.device_id, 2)))
    assert record_results(await client.response()) == [
        (0, ResultCode.PROC_SRC_DENIED),
        (1, ResultCode.PROC_SRC_DENIED),
    ]
    await client.close()
    async with backend.db.session() as session:
        assert await store.count_fixes(session, seal.device_id) == 0


def corrupt_data(packet: bytes) -> bytes:
    return packet[:-1] + bytes([packet[-1] ^ 0xFF])


async def test_bad_data_crc_is_answered_and_the_session_goes_on(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db)
    client = await authenticated(gateways, seal.device_id, 77)
    fixes = track(seal.device_id, 3)
    await client.send(corrupt_data(encode_position_packet(9, 77, fixes)))
    response = await client.response()
    assert (response.response_to_pid, response.result) == (9, ResultCode.DATACRC_ERROR)
    assert record_results(response) == []
    await client.send(encode_position_packet(10, 77, fixes))
    response = await client.response()
    assert (response.response_to_pid, response.result) == (10, ResultCode.OK)
    await client.close()
    async with backend.db.session() as session:
        assert await store.count_fixes(session, seal.device_id) == 3


async def test_bad_header_crc_is_answered_then_closed(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db)
    client = await authenticated(gateways, seal.device_id, 78)
    packet = bytearray(encode_position_packet(11, 78, track(seal.device_id, 1)))
    packet[10] ^= 0xFF  # HCS
    await client.send(bytes(packet))
    response = await client.response()
    assert (response.response_to_pid, response.result) == (11, ResultCode.HEADERCRC_ERROR)
    assert await client.closed()


async def test_garbage_is_cut_while_a_concurrent_terminal_keeps_working(
    backend: Backend, gateways: Gateways
) -> None:
    good_seal, bad_seal = await register_seal(backend.db), await register_seal(backend.db)
    good = await authenticated(gateways, good_seal.device_id, 501)
    bad = await authenticated(gateways, bad_seal.device_id, 502)
    assert gateways.egts is not None
    cuts_before = gateways.egts.stats.cuts["garbage"]
    good_fixes = track(good_seal.device_id, 40)

    async def keep_reporting() -> None:
        for i in range(0, 40, 4):
            await good.send(encode_position_packet(100 + i, 501, good_fixes[i : i + 4]))
            response = await good.response()
            assert response.result == ResultCode.OK
            assert all(r == ResultCode.OK for _, r in record_results(response))
            await asyncio.sleep(0.02)

    async def send_garbage() -> bool:
        for pid in range(3):
            await bad.send(corrupt_data(encode_position_packet(pid, 502, track(bad_seal.device_id, 1))))
            await asyncio.sleep(0.02)
        return await bad.closed()

    _, closed = await asyncio.gather(keep_reporting(), send_garbage())
    assert closed
    assert gateways.egts.stats.cuts["garbage"] == cuts_before + 1

    # Bytes that are not EGTS at all: cut at once, the good terminal still confirmed.
    noise = await EgtsClient.connect(port(gateways))
    await noise.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await noise.closed()
    await good.send(
        encode_position_packet(
            999, 501, track(good_seal.device_id, 1, start=datetime(2026, 4, 1, tzinfo=UTC))
        )
    )
    assert (await good.response()).result == ResultCode.OK
    await good.close()
    async with backend.db.session() as session:
        assert await store.count_fixes(session, good_seal.device_id) == 41
        assert await store.count_fixes(session, bad_seal.device_id) == 0


async def test_oversized_frame_is_cut_as_a_flood(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db)
    client = await authenticated(gateways, seal.device_id, 79)
    assert gateways.egts is not None
    floods = gateways.egts.stats.cuts["flood"]
    # A header announcing 60,000 bytes of frame data, over the 16 KiB limit of this gateway.
    header = struct.pack("<BBBBBHHB", 1, 0, 0, 11, 0, 60_000, 12, 1)
    from tamga.ingest.egts.crc import crc8

    await client.send(header + bytes([crc8(header)]) + b"\x00" * 1000)
    assert await client.closed()
    assert gateways.egts.stats.cuts["flood"] == floods + 1


async def test_message_rate_flood_is_cut(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db)
    client = await authenticated(gateways, seal.device_id, 80)
    assert gateways.egts is not None
    floods = gateways.egts.stats.cuts["flood"]
    burst = gateways.settings.ingest_message_burst
    empty = encode_packet(0, 1, b"")  # an APPDATA without records: cheap, valid
    await client.send(empty * (burst + 50))
    assert await client.closed()
    assert gateways.egts.stats.cuts["flood"] == floods + 1


async def test_stalled_terminal_is_cut_after_the_idle_timeout(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db)
    client = await authenticated(gateways, seal.device_id, 81)
    packet = encode_position_packet(2, 81, track(seal.device_id, 1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.send(packet[:15])  # half a packet, then silence
    assert await client.closed(wait_s=IDLE_S * 4)
    assert IDLE_S * 0.9 <= loop.time() - started < IDLE_S * 3
    assert gateways.egts is not None and gateways.egts.stats.cuts["idle"] >= 1


async def test_fixes_of_a_far_past_day_are_stored(backend: Backend, gateways: Gateways) -> None:
    """A black box from last year lands in the DEFAULT partition on PostgreSQL, and is stored all the same."""
    seal = await register_seal(backend.db)
    client = await authenticated(gateways, seal.device_id, 82)
    old = track(seal.device_id, 5, start=datetime.now(UTC) - timedelta(days=400))
    await client.send(encode_position_packet(2, 82, old))
    assert all(r == ResultCode.OK for _, r in record_results(await client.response()))
    await client.close()
    async with backend.db.session() as session:
        assert await store.count_fixes(session, seal.device_id) == 5
