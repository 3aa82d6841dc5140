"""The simulator against the real gateways on real sockets: EGTS and Wialon IPS trucks, accelerated, on each
database. Every fix sent is stored once, black boxes included, and a replay of the run stores nothing new."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from tests.conftest import IN_CI, Backend
from tests.ingest.devices import register_seal

from tamga.ingest import store
from tamga.ingest.bus import FixBus
from tamga.ingest.gateways import Gateways
from tamga.simulate.corridors import CORRIDORS
from tamga.simulate.runner import Endpoints, SealSpec, TruckResult, run_fleet
from tamga.simulate.trucks import plan_track

START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
DRIVE = timedelta(hours=2)
SPEED_UP = 7200.0  # two simulated hours in about a second
MQTT_URL = os.environ.get("TAMGA_TEST_MQTT_URL")


@pytest.fixture(scope="module")
async def gateways(backend: Backend) -> AsyncIterator[Gateways]:
    settings = backend.settings.model_copy(update={"egts_port": 0, "wialon_port": 0, "mqtt_url": None})
    running = Gateways(settings, backend.db, FixBus())
    await running.start()
    yield running
    await running.stop()


async def test_trucks_over_egts_and_wialon_are_stored_once(backend: Backend, gateways: Gateways) -> None:
    assert gateways.egts is not None and gateways.wialon is not None
    seals = []
    for protocol, model in (
        ("egts", "generic-egts-seal"),
        ("egts", "generic-egts-seal"),
        ("wialon_ips", "generic-wialon-seal"),
    ):
        registered = await register_seal(backend.db, protocol=protocol, model=model)
        seals.append(SealSpec(registered.device_id, protocol, registered.secret))
    # Short corridors, so that two hours reach the coverage gaps; each truck loses its signal and
    # records a black box on the way.
    plans = [
        (
            seal,
            plan_track(CORRIDORS[key], START, seed, incidents={"lost_signal", "black_box", "night_opening"}),
        )
        for seal, key, seed in zip(
            seals,
            ("m7-kamenny-log-minsk", "m6-bruzgi-grodno-minsk", "m7-kamenny-log-minsk"),
            (1, 2, 3),
            strict=True,
        )
    ]
    endpoints = Endpoints("127.0.0.1", gateways.egts.port, gateways.wialon.port)
    seen: list[str | None] = []

    async def run() -> list[TruckResult]:
        return await run_fleet(
            plans,
            endpoints,
            start=START,
            speed_up=SPEED_UP,
            duration=DRIVE,
            progressed=lambda _i, _r, note: seen.append(note),
        )

    results = await run()
    assert [r.error for r in results] == [None, None, None]
    assert all(r.live > 50 for r in results)
    assert "no coverage: recording" in seen and any(r.black_box for r in results)

    stored: dict[str, int] = {}
    for seal, result in zip(seals, results, strict=True):
        async with backend.db.session() as session:
            rows = await store.fixes_of_device(session, seal.device_id)
        assert len(rows) == result.live + result.black_box
        assert len({(r.time, r.record_id) for r in rows}) == len(rows)
        assert len({r.time for r in rows}) == len(rows)
        assert all(START <= r.time < START + DRIVE for r in rows)
        assert sum(r.black_box for r in rows) == result.black_box
        assert {r.protocol for r in rows} == {"egts" if seal.protocol == "egts" else "wialon_ips"}
        stored[seal.device_id] = len(rows)

    # The same run again, as devices that lost every answer would resend it: nothing is stored twice.
    again = await run()
    assert [r.error for r in again] == [None, None, None]
    for seal in seals:
        async with backend.db.session() as session:
            assert await store.count_fixes(session, seal.device_id) == stored[seal.device_id]


@pytest.mark.skipif(not MQTT_URL and not IN_CI, reason="TAMGA_TEST_MQTT_URL is not set")
async def test_a_truck_over_mqtt_is_stored_once(backend: Backend) -> None:
    assert MQTT_URL, "CI=true but TAMGA_TEST_MQTT_URL is not set: the MQTT test may not be skipped"
    run = uuid.uuid4().hex[:8]
    topic = f"tamga-sim-test/{run}-{backend.kind}/telemetry/{{device_id}}"
    settings = backend.settings.model_copy(
        update={
            "egts_enabled": False,
            "wialon_enabled": False,
            "mqtt_url": MQTT_URL,
            "mqtt_topic": topic,
            "mqtt_client_id": f"tamga-sim-test-{run}-{backend.kind}",
        }
    )
    running = Gateways(settings, backend.db, FixBus())
    await running.start()
    try:
        assert running.mqtt is not None
        await asyncio.wait_for(running.mqtt.subscribed.wait(), 10)
        registered = await register_seal(backend.db, protocol="mqtt", model="generic-wialon-seal")
        seal = SealSpec(registered.device_id, "mqtt")
        track = plan_track(CORRIDORS["m6-bruzgi-grodno-minsk"], START, 4, incidents={"black_box"})
        endpoints = Endpoints(mqtt_url=MQTT_URL, mqtt_topic=topic)
        for _ in range(2):  # the second run is a replay: nothing new is stored
            [result] = await run_fleet(
                [(seal, track)], endpoints, start=START, speed_up=SPEED_UP, duration=timedelta(hours=1)
            )
            assert result.error is None
            expected = result.live + result.black_box
            for _ in range(200):
                async with backend.db.session() as session:
                    count = await store.count_fixes(session, seal.device_id)
                if count >= expected:
                    break
                await asyncio.sleep(0.05)
            assert count == expected
    finally:
        await running.stop()
