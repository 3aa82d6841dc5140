"""The MQTT channel: fixes that devices publish on a broker (e.g. Mosquitto), taken by subscription.

Devices publish the fix JSON (`schemas.TelemetryFixIn`), or `{"fixes": [...]}`, on the topic of
`TAMGA_MQTT_TOPIC` with their device id in it (default `tamga/telemetry/{device_id}`), at QoS 1. The
broker authenticates the publishers and its ACL should pin each to its own topic (Mosquitto:
`pattern write tamga/telemetry/%u`); the platform then checks what it can see: the device id of every
fix must be the topic's (a device publishes only for itself) and must be a registered seal. Anything
else is dropped and counted (`MqttStats`), never stored.

Delivery is at least once and storage exactly once: the subscription is persistent (a fixed client id,
clean session off) and a message is acknowledged (PUBACK) only after its fixes are committed, so a crash
before the commit makes the broker deliver it again, and the fix key makes the repeat a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import aiomqtt
from pydantic import ValidationError

from tamga.ingest.schemas import TelemetryBatch, TelemetryFixIn
from tamga.ingest.service import MQTT_PROTOCOL, Report, devices_by_ids, json_report
from tamga.ingest.tcp import Ingest

log = logging.getLogger(__name__)

DEVICE_PLACEHOLDER: Final = "{device_id}"
MAX_BATCH_MESSAGES: Final = 500
RECONNECT_MAX_S: Final = 30.0


@dataclass(slots=True)
class MqttStats:
    """Counters of the subscriber since it started."""

    messages: int = 0
    fixes: int = 0
    stored: int = 0
    duplicates: int = 0
    dropped_invalid: int = 0
    dropped_foreign: int = 0
    dropped_unknown: int = 0
    unknown_devices: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    username: str | None
    password: str | None


def parse_broker_url(url: str) -> Broker:
    """The broker of an `mqtt://[user:password@]host[:port]` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"not an mqtt://host:port URL: {url!r}")
    return Broker(
        host=parts.hostname,
        port=parts.port or 1883,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class TopicTemplate:
    """`tamga/telemetry/{device_id}`: the subscription filter it gives and the device id of a topic."""

    def __init__(self, template: str) -> None:
        levels = template.split("/")
        if levels.count(DEVICE_PLACEHOLDER) != 1 or any(c in template for c in "+#"):
            raise ValueError(f"the MQTT topic {template!r} needs one whole level {DEVICE_PLACEHOLDER}")
        self.levels = levels
        self.index = levels.index(DEVICE_PLACEHOLDER)
        self.filter = "/".join("+" if level == DEVICE_PLACEHOLDER else level for level in levels)

    def topic(self, device_id: str) -> str:
        return "/".join(device_id if level == DEVICE_PLACEHOLDER else level for level in self.levels)

    def device_of(self, topic: str) -> str | None:
        levels = topic.split("/")
        if len(levels) != len(self.levels):
            return None
        for i, (level, expected) in enumerate(zip(levels, self.levels, strict=True)):
            if i != self.index and level != expected:
                return None
        return levels[self.index] or None


def _fixes_of(payload: bytes) -> list[Any] | None:
    """The raw fix objects of a payload (one fix or a batch), or None if it is not JSON of that shape."""
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(document, dict) and "fixes" in document:
        try:
            return list(TelemetryBatch.model_validate(document).fixes)
        except ValidationError:
            return None
    return [document]


class MqttSubscriber:
    """Subscribes to the devices' topics, stores their fixes, acknowledges after the commit."""

    def __init__(self, ingest: Ingest, url: str, topic: str, client_id: str) -> None:
        self.ingest = ingest
        self.broker = parse_broker_url(url)
        self.template = TopicTemplate(topic)
        self.client_id = client_id
        self.stats = MqttStats()
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt-subscriber")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as error:
                self.subscribed.clear()
                log.warning("mqtt: %s; reconnecting in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
            except Exception:
                # Storing failed (the database?): what was not acknowledged comes again on reconnection.
                self.subscribed.clear()
                log.exception("mqtt: storing failed; reconnecting in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
            else:
                delay = 0.5

    async def _session(self) -> None:
        client = aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            username=self.broker.username,
            password=self.broker.password,
            identifier=self.client_id,
            clean_session=False,
        )
        # aiomqtt acknowledges on receipt; paho underneath can leave it to us, after the commit.
        client._client.manual_ack_set(True)
        async with client:
            await client.subscribe(self.template.filter, qos=1)
            self.subscribed.set()
            messages = aiter(client.messages)
            while True:
                batch = [await anext(messages)]
                while len(client.messages) and len(batch) < MAX_BATCH_MESSAGES:
                    batch.append(await anext(messages))
                await self._handle(batch)
                for message in batch:
                    if message.qos:
                        client._client.ack(message.mid, message.qos)

    async def _handle(self, messages: list[aiomqtt.Message]) -> None:
        """Store the admissible fixes of these messages in one transaction (dropping and counting the rest)."""
        stats = self.stats
        stats.messages += len(messages)
        candidates: list[TelemetryFixIn] = []
        for message in messages:
            topic_device = self.template.device_of(message.topic.value)
            payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            raw = _fixes_of(bytes(payload)) if topic_device is not None else None
            if raw is None:
                stats.dropped_invalid += 1
                continue
            for item in raw:
                stats.fixes += 1
                try:
                    fix = item if isinstance(item, TelemetryFixIn) else TelemetryFixIn.model_validate(item)
                except ValidationError:
                    stats.dropped_invalid += 1
                    continue
                if fix.device_id != topic_device:
                    stats.dropped_foreign += 1
                    continue
                candidates.append(fix)
        if not candidates:
            return
        async with self.ingest.db.session() as session:
            devices = await devices_by_ids(session, (fix.device_id for fix in candidates))
        reports: list[Report] = []
        for fix in candidates:
            device = devices.get(fix.device_id)
            if device is None:
                stats.dropped_unknown += 1
                if len(stats.unknown_devices) < 1000:
                    stats.unknown_devices.add(fix.device_id)
                continue
            reports.append(json_report(device, fix, MQTT_PROTOCOL))
        if reports:
            outcome = await self.ingest.persist(reports)
            stats.stored += len(outcome.stored)
            stats.duplicates += outcome.duplicates
