"""The Wialon IPS gateway on a real socket, on each database: 1.1 and 2.0 logins, SD, D, B and P with
the protocol's answers, checksum errors, refusals, and connections cut for garbage, floods and stalls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from tests.conftest import Backend
from tests.ingest.devices import LineClient, register_seal, track

from tamga.ingest import store
from tamga.ingest.bus import FixBus
from tamga.ingest.fix import Fix
from tamga.ingest.gateways import Gateways
from tamga.ingest.wialon import (
    encode_black_box,
    encode_data,
    encode_login,
    encode_ping,
    encode_short_data,
)
from tamga.ingest.wialon.codec import Version

IDLE_S = 1.5
MAX_LINE = 64 * 1024


@pytest.fixture(scope="module")
async def gateways(backend: Backend) -> AsyncIterator[Gateways]:
    settings = backend.settings.model_copy(
        update={
            "wialon_port": 0,
            "egts_enabled": False,
            "mqtt_url": None,
            "ingest_idle_timeout_s": IDLE_S,
            "ingest_max_decode_errors": 3,
            "ingest_max_line_bytes": MAX_LINE,
            "ingest_max_buffered_bytes": 4 * MAX_LINE,
        }
    )
    running = Gateways(settings, backend.db, FixBus())
    await running.start()
    yield running
    await running.stop()


def port(gateways: Gateways) -> int:
    assert gateways.wialon is not None
    return gateways.wialon.port


def seal_track(device_id: str, count: int, start: datetime) -> list[Fix]:
    # ADC 1 is the battery in volts for the generic Wialon seal; satellites make the fix valid.
    return [replace(f, analog={1: 3.9}, satellites=9, hdop=0.8) for f in track(device_id, count, start=start)]


async def logged_in(gateways: Gateways, device_id: str, secret: str, version: Version) -> LineClient:
    client = await LineClient.connect(port(gateways))
    assert await client.ask(encode_login(device_id, secret, version)) == "#AL#1"
    return client


@pytest.mark.parametrize("version", ["1.1", "2.0"])
async def test_session_sd_d_b_p_stored_once(backend: Backend, gateways: Gateways, version: Version) -> None:
    seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    client = await logged_in(gateways, seal.device_id, seal.secret, version)
    fixes = seal_track(seal.device_id, 12, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert await client.ask(encode_short_data(fixes[0], version)) == "#ASD#1"
    assert await client.ask(encode_data(fixes[1], version)) == "#AD#1"
    assert await client.ask(encode_ping()) == "#AP#"
    box = encode_black_box(fixes[2:], version)
    assert await client.ask(box) == "#AB#10"
    # The black box again (the answer was lost): answered again, nothing stored twice.
    assert await client.ask(box) == "#AB#10"
    assert await client.ask(encode_data(fixes[1], version)) == "#AD#1"
    await client.close()

    async with backend.db.session() as session:
        rows = await store.fixes_of_device(session, seal.device_id)
    assert [r.time for r in rows] == [f.time for f in fixes]
    assert all(r.record_id == 0 and r.protocol == "wialon_ips" for r in rows)
    d = rows[1]
    assert d.lat == pytest.approx(fixes[1].lat, abs=1e-6) and d.lon == pytest.approx(fixes[1].lon, abs=1e-6)
    assert (d.armed, d.opened, d.tampered) == (True, False, False)
    assert d.battery_v == pytest.approx(3.9) and d.valid
    assert d.attributes["satellites"] == 9
    assert rows[0].armed is None  # SD carries no inputs
    assert [r.black_box for r in rows] == [False, False] + [True] * 10


async def test_pipelined_messages_are_answered_in_order(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    client = await LineClient.connect(port(gateways))
    fixes = seal_track(seal.device_id, 3, datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    await client.send(
        encode_login(seal.device_id, seal.secret)
        + encode_data(fixes[0])
        + encode_ping()
        + encode_short_data(fixes[1])
        + encode_black_box(fixes[2:])
    )
    assert [await client.line() for _ in range(5)] == ["#AL#1", "#AD#1", "#AP#", "#ASD#1", "#AB#1"]
    await client.close()


async def test_bad_checksums_get_their_codes(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    client = await logged_in(gateways, seal.device_id, seal.secret, "2.0")
    fix = seal_track(seal.device_id, 1, datetime(2026, 3, 4, 9, 0, tzinfo=UTC))[0]

    def bad_crc(line: str) -> str:
        body, crc = line[:-6], line[-6:-2]
        return body + ("0000" if crc != "0000" else "FFFF") + "\r\n"

    assert await client.ask(bad_crc(encode_short_data(fix))) == "#ASD#13"
    assert await client.ask(bad_crc(encode_data(fix))) == "#AD#16"
    # The session goes on after a refused message.
    assert await client.ask(encode_data(fix)) == "#AD#1"
    await client.close()

    login = LineClient(*await asyncio.open_connection("127.0.0.1", port(gateways)))
    assert await login.ask(bad_crc(encode_login(seal.device_id, seal.secret))) == "#AL#10"
    assert await login.closed()


async def test_field_errors_get_their_codes(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    client = await logged_in(gateways, seal.device_id, seal.secret, "1.1")
    assert await client.ask("#SD#010326;090000;9999.0000;N;02300.0000;E;60;80;100;9\r\n") == "#ASD#10"
    await client.close()


async def test_unknown_device_and_wrong_password_are_refused(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    for line, expected in (
        (encode_login("123456789012345", "whatever", "2.0"), "#AL#0"),
        (encode_login(seal.device_id, "wrong-secret", "2.0"), "#AL#01"),
        (encode_login(seal.device_id, "wrong-secret", "1.1"), "#AL#0"),
    ):
        client = await LineClient.connect(port(gateways))
        assert await client.ask(line) == expected
        assert await client.closed()


async def test_an_egts_seal_cannot_log_in_over_wialon(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db)  # registered for EGTS
    client = await LineClient.connect(port(gateways))
    assert await client.ask(encode_login(seal.device_id, seal.secret)) == "#AL#0"
    assert await client.closed()


async def test_data_before_login_and_for_another_device_end_the_connection(
    backend: Backend, gateways: Gateways
) -> None:
    seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    other = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    fix = seal_track(seal.device_id, 1, datetime(2026, 3, 5, 9, 0, tzinfo=UTC))[0]
    client = await LineClient.connect(port(gateways))
    await client.send(encode_data(fix))
    assert await client.closed()

    client = await logged_in(gateways, seal.device_id, seal.secret, "1.1")
    await client.send(f"1.1;{other.device_id}" + encode_data(fix, "1.1"))
    assert await client.closed()
    async with backend.db.session() as session:
        assert await store.count_fixes(session, seal.device_id) == 0
        assert await store.count_fixes(session, other.device_id) == 0


async def test_garbage_is_cut_while_a_concurrent_device_keeps_working(
    backend: Backend, gateways: Gateways
) -> None:
    good_seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    bad_seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    good = await logged_in(gateways, good_seal.device_id, good_seal.secret, "2.0")
    bad = await logged_in(gateways, bad_seal.device_id, bad_seal.secret, "2.0")
    assert gateways.wialon is not None
    cuts = gateways.wialon.stats.cuts["garbage"]
    fixes = seal_track(good_seal.device_id, 20, datetime(2026, 3, 6, 9, 0, tzinfo=UTC))

    async def keep_reporting() -> None:
        for fix in fixes:
            assert await good.ask(encode_data(fix)) == "#AD#1"
            await asyncio.sleep(0.01)

    async def send_garbage() -> bool:
        for _ in range(3):
            await bad.send(b"\x00\xff garbage \x13\r\n")
            await asyncio.sleep(0.02)
        return await bad.closed()

    _, closed = await asyncio.gather(keep_reporting(), send_garbage())
    assert closed and gateways.wialon.stats.cuts["garbage"] == cuts + 1
    assert await good.ask(encode_ping()) == "#AP#"
    await good.close()
    async with backend.db.session() as session:
        assert await store.count_fixes(session, good_seal.device_id) == 20


async def test_a_line_without_end_is_cut_as_a_flood(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    client = await logged_in(gateways, seal.device_id, seal.secret, "1.1")
    assert gateways.wialon is not None
    floods = gateways.wialon.stats.cuts["flood"]
    try:
        for _ in range(MAX_LINE // 4096 + 2):
            await client.send(b"#D#" + b"9" * 4096)
    except ConnectionError:
        pass
    assert await client.closed()
    assert gateways.wialon.stats.cuts["flood"] == floods + 1


async def test_message_rate_flood_is_cut(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    client = await logged_in(gateways, seal.device_id, seal.secret, "1.1")
    assert gateways.wialon is not None
    floods = gateways.wialon.stats.cuts["flood"]
    await client.send(encode_ping() * (gateways.settings.ingest_message_burst + 50))
    assert await client.closed()
    assert gateways.wialon.stats.cuts["flood"] == floods + 1


async def test_stalled_device_is_cut_after_the_idle_timeout(backend: Backend, gateways: Gateways) -> None:
    seal = await register_seal(backend.db, protocol="wialon_ips", model="generic-wialon-seal")
    client = await logged_in(gateways, seal.device_id, seal.secret, "1.1")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.send("#D#0103")  # the start of a message, then silence
    assert await client.closed(wait_s=IDLE_S * 4)
    assert IDLE_S * 0.9 <= loop.time() - started < IDLE_S * 3
