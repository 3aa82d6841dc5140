"""The MQTT channel against a real broker (TAMGA_TEST_MQTT_URL, e.g. Mosquitto), on each database.

Skipped locally without a broker; with CI=true a missing broker fails the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import pytest
from tests.conftest import IN_CI, Backend
from tests.ingest.devices import register_seal

from tamga.ingest import store
from tamga.ingest.bus import FixBus
from tamga.ingest.gateways import Gateways
from tamga.ingest.mqtt import TopicTemplate, parse_broker_url

MQTT_URL = os.environ.get("TAMGA_TEST_MQTT_URL")
if not MQTT_URL:
    if IN_CI:
        raise RuntimeError("CI=true but TAMGA_TEST_MQTT_URL is not set: the MQTT tests may not be skipped")
    pytest.skip("TAMGA_TEST_MQTT_URL is not set", allow_module_level=True)

T0 = datetime(2026, 3, 25, 10, 0, tzinfo=UTC)
RUN = uuid.uuid4().hex[:8]


def fix(device_id: str, i: int, **extra: Any) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "record_id": i,
        "time": (T0 + timedelta(seconds=30 * i)).isoformat(),
        "lat": 54.78 + i * 1e-4,
        "lon": 32.05 + i * 1e-4,
        "speed": 55.0,
        "course": 270,
        "seal": {"opened": False, "armed": True},
        "battery_v": 3.8,
        **extra,
    }


@pytest.fixture(scope="module")
async def gateways(backend: Backend) -> AsyncIterator[Gateways]:
    assert MQTT_URL
    settings = backend.settings.model_copy(
        update={
            "egts_enabled": False,
            "wialon_enabled": False,
            "mqtt_url": MQTT_URL,
            "mqtt_topic": f"tamga-test/{RUN}-{backend.kind}/telemetry/{{device_id}}",
            "mqtt_client_id": f"tamga-test-{RUN}-{backend.kind}",
        }
    )
    running = Gateways(settings, backend.db, FixBus())
    await running.start()
    assert running.mqtt is not None
    await asyncio.wait_for(running.mqtt.subscribed.wait(), 10)
    yield running
    await running.stop()
    # Forget the persistent session this run left on the broker.
    broker = parse_broker_url(MQTT_URL)
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=broker.username,
        password=broker.password,
        identifier=settings.mqtt_client_id,
        clean_session=True,
    ):
        pass


@pytest.fixture
async def publish(gateways: Gateways) -> AsyncIterator[Callable[[str, Any], Awaitable[None]]]:
    assert MQTT_URL
    broker = parse_broker_url(MQTT_URL)
    template = TopicTemplate(gateways.settings.mqtt_topic)
    async with aiomqtt.Client(
        broker.host, broker.port, username=broker.username, password=broker.password
    ) as c:

        async def send(topic_device: str, payload: Any) -> None:
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            await c.publish(template.topic(topic_device), body, qos=1)

        yield send


async def eventually(check: Callable[[], Awaitable[bool]], wait_s: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + wait_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not within the time allowed")
        await asyncio.sleep(0.05)


async def count(backend: Backend, device_id: str) -> int:
    async with backend.db.session() as session:
        return await store.count_fixes(session, device_id)


async def test_fixes_published_by_a_device_are_stored_once(
    backend: Backend, gateways: Gateways, publish: Callable[[str, Any], Awaitable[None]]
) -> None:
    seal = await register_seal(backend.db, protocol="mqtt", model="generic-egts-seal")
    await publish(seal.device_id, fix(seal.device_id, 0))
    await publish(seal.device_id, {"fixes": [fix(seal.device_id, i) for i in range(1, 6)]})
    await publish(seal.device_id, fix(seal.device_id, 3))  # a repeat
    assert gateways.mqtt is not None
    before = gateways.mqtt.stats.duplicates

    async def all_in() -> bool:
        return (
            await count(backend, seal.device_id) == 6
            and gateways.mqtt is not None
            and (gateways.mqtt.stats.duplicates > before)
        )

    await eventually(all_in)
    async with backend.db.session() as session:
        rows = await store.fixes_of_device(session, seal.device_id)
    assert [r.record_id for r in rows] == list(range(6))
    assert rows[0].protocol == "mqtt" and rows[0].armed is True and rows[0].battery_v == 3.8
    published = [s for s in gateways.ingest.bus._queue if s.fix.device_id == seal.device_id]
    assert len(published) == 6


async def test_foreign_unknown_and_invalid_payloads_are_dropped_and_counted(
    backend: Backend, gateways: Gateways, publish: Callable[[str, Any], Awaitable[None]]
) -> None:
    mine, theirs = (
        await register_seal(backend.db, protocol="mqtt"),
        await register_seal(backend.db, protocol="mqtt"),
    )
    assert gateways.mqtt is not None
    stats = gateways.mqtt.stats
    foreign, unknown, invalid = stats.dropped_foreign, stats.dropped_unknown, stats.dropped_invalid
    await publish(mine.device_id, fix(theirs.device_id, 0))  # speaking for another device
    await publish("not-registered", fix("not-registered", 0))
    await publish(mine.device_id, b"{not json")
    await publish(mine.device_id, fix(mine.device_id, 0, lat=123.0))
    await publish(mine.device_id, fix(mine.device_id, 1))  # the one good message, last

    async def settled() -> bool:
        return await count(backend, mine.device_id) == 1

    await eventually(settled)
    assert stats.dropped_foreign == foreign + 1
    assert stats.dropped_unknown == unknown + 1 and "not-registered" in stats.unknown_devices
    assert stats.dropped_invalid == invalid + 2
    assert await count(backend, theirs.device_id) == 0


async def test_messages_published_while_the_subscriber_is_down_arrive_after(
    backend: Backend, gateways: Gateways, publish: Callable[[str, Any], Awaitable[None]]
) -> None:
    seal = await register_seal(backend.db, protocol="mqtt")
    mqtt = gateways.mqtt
    assert mqtt is not None
    await mqtt.stop()
    try:
        await publish(seal.device_id, {"fixes": [fix(seal.device_id, i) for i in range(4)]})
        await asyncio.sleep(0.2)
        assert await count(backend, seal.device_id) == 0
    finally:
        mqtt.subscribed.clear()
        await mqtt.start()
        await asyncio.wait_for(mqtt.subscribed.wait(), 10)

    async def arrived() -> bool:
        return await count(backend, seal.device_id) == 4

    await eventually(arrived)
