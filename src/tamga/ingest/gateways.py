"""The device gateways as one unit: started by `tamga ingest` alone, or in `tamga serve`'s lifespan.

`Gateways.start` makes sure the coming days' partitions of `fixes` exist (PostgreSQL), then opens the EGTS
and Wialon IPS ports and the MQTT subscription that the settings enable; the partitions are checked again
every few hours for as long as the gateways run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Final, Protocol

from tamga.config import Settings
from tamga.ingest import store
from tamga.ingest.bus import FixBus, FixPublisher
from tamga.ingest.gateway_egts import EgtsGateway
from tamga.ingest.gateway_wialon import WialonGateway
from tamga.ingest.mqtt import MqttSubscriber
from tamga.ingest.nats_bus import NatsFixPublisher, close_publisher, fix_publisher
from tamga.ingest.tcp import Ingest, Limits
from tamga.kit.clock import utcnow
from tamga.kit.db import Database, commit

log = logging.getLogger(__name__)

PARTITION_DAYS_AHEAD: Final = 3
PARTITION_CHECK_S: Final = 6 * 3600.0


async def ensure_coming_partitions(db: Database) -> list[str]:
    """Create the partitions of today and the next days where missing (PostgreSQL); give those created."""
    async with db.session() as session:
        created = await store.ensure_partitions(session, utcnow().date(), PARTITION_DAYS_AHEAD)
        await commit(session)
    if created:
        log.info("created partitions %s", ", ".join(created))
    return created


class Gateways:
    """The EGTS and Wialon IPS servers and the MQTT subscriber the settings enable, on one database."""

    def __init__(self, settings: Settings, db: Database, bus: FixPublisher) -> None:
        self.settings = settings
        ingest = Ingest(db, bus)
        self.ingest = ingest
        host = settings.gateway_host
        self.egts = (
            EgtsGateway(
                ingest,
                Limits.from_settings(settings, settings.ingest_max_frame_bytes),
                host,
                settings.egts_port,
            )
            if settings.egts_enabled
            else None
        )
        self.wialon = (
            WialonGateway(
                ingest,
                Limits.from_settings(settings, settings.ingest_max_line_bytes),
                host,
                settings.wialon_port,
            )
            if settings.wialon_enabled
            else None
        )
        self.mqtt = (
            MqttSubscriber(ingest, settings.mqtt_url, settings.mqtt_topic, settings.mqtt_client_id)
            if settings.mqtt_url
            else None
        )
        self._maintenance: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await ensure_coming_partitions(self.ingest.db)
        self._maintenance = asyncio.get_running_loop().create_task(self._keep_partitions())
        for gateway in (self.egts, self.wialon):
            if gateway is not None:
                await gateway.start()
        if self.mqtt is not None:
            await self.mqtt.start()

    async def stop(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
        for part in (self.mqtt, self.egts, self.wialon):
            if part is not None:
                await part.stop()
        await self.ingest.close()

    def describe(self) -> list[str]:
        """One line per running channel, for the operator."""
        lines = []
        if self.egts is not None:
            lines.append(f"EGTS on {self.settings.gateway_host}:{self.egts.port}")
        if self.wialon is not None:
            lines.append(f"Wialon IPS on {self.settings.gateway_host}:{self.wialon.port}")
        if self.mqtt is not None:
            lines.append(f"MQTT {self.mqtt.broker.host}:{self.mqtt.broker.port} {self.mqtt.template.filter}")
        return lines

    async def _keep_partitions(self) -> None:
        while True:
            await asyncio.sleep(PARTITION_CHECK_S)
            try:
                await ensure_coming_partitions(self.ingest.db)
            except Exception:
                log.exception("could not create the coming partitions of fixes; retrying later")


class Consumer(Protocol):
    """Work on the bus that runs beside the gateways in their process (monitoring)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run_until_stopped(
    settings: Settings,
    announce: Callable[[str], None] = print,
    consumer: Callable[[Database, FixBus], Consumer] | None = None,
) -> None:
    """Run the gateways without the HTTP API until SIGINT or SIGTERM (what `tamga ingest` does).

    With the in-process bus, `consumer` takes their bus (what is not consumed here is not consumed);
    with `bus_url` set they publish to NATS JetStream, and the monitoring runs in another process."""
    db = Database(settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo)
    bus = fix_publisher(settings)
    if isinstance(bus, NatsFixPublisher):
        await bus.start()
        announce(f"publishing stored fixes to NATS JetStream {settings.bus_stream} on {settings.bus_url}")
    gateways = Gateways(settings, db, bus)
    taking = consumer(db, bus) if consumer is not None and isinstance(bus, FixBus) else None
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await gateways.start()
        if taking is not None:
            taking.start()
        for line in gateways.describe() or ["no gateway enabled"]:
            announce(line)
        await stopping.wait()
    finally:
        await gateways.stop()
        await close_publisher(bus)
        if taking is not None:
            await taking.stop()
        await db.dispose()
