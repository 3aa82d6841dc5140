"""The composition root: the FastAPI application, its middleware and routers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tamga import __version__
from tamga.auth import endpoints as auth_endpoints
from tamga.auth.deps import idempotency_identity
from tamga.auth.security import configure_password_hashing
from tamga.auth.service import REVOCATION_CHANNEL, forget_principal
from tamga.clearance import endpoints as clearance_endpoints
from tamga.clearance import risk_endpoints
from tamga.config import Settings, get_settings
from tamga.ingest import endpoints as ingest_endpoints
from tamga.ingest.bus import FixBus
from tamga.ingest.nats_bus import NatsFixConsumer, NatsFixPublisher, close_publisher, fix_publisher
from tamga.kit import notify
from tamga.kit.db import Database
from tamga.kit.http import BodyLimitMiddleware, SessionScopeMiddleware, install_error_handlers
from tamga.kit.idempotency import IdempotencyMiddleware
from tamga.monitoring import endpoints as monitoring_endpoints
from tamga.monitoring.service import AlarmHub
from tamga.monitoring.tasks import AlarmRelay, MonitoringTasks
from tamga.parties import endpoints as parties_endpoints
from tamga.rates import endpoints as rates_endpoints
from tamga.reference import endpoints as reference_endpoints
from tamga.reference.catalog import load_catalog
from tamga.taxation import endpoints as taxation_endpoints
from tamga.transit import endpoints as transit_endpoints

API_PREFIX = "/api/v1"
GC_THRESHOLDS = (20_000, 20, 20)  # CPython's default is (700, 10, 10)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Give the HTTP application wired to its settings and database."""
    settings = settings or get_settings()
    configure_password_hashing(settings.argon2_time_cost, settings.argon2_memory_kib)
    db = database or Database(
        settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
    )

    # The fix bus: in the process, or NATS JetStream (`bus_url`), where this process publishes what its
    # gateways and HTTP ingest store, and its monitoring (when on) consumes through the durable consumer.
    bus = fix_publisher(settings)
    hub = AlarmHub()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        load_catalog()  # fail at start, not on the first request, if reference data is broken
        # What start-up loaded (reference data, boundaries, compiled kernels) lives as long as the process:
        # keep it out of the collector's scans, and let the young generation grow before a collection, so
        # that the many short-lived objects of a busy gateway do not trigger one every few hundred fixes.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        # alarm changes reach the live streams of every process (PostgreSQL), or of this one (SQLite)
        relay = AlarmRelay.for_database(db, hub)
        if relay is not None:
            relay.start()
        app.state.alarm_relay = relay
        # a deactivation or revocation made in another process empties this one's principal cache too
        revocations = (
            asyncio.create_task(notify.listen(db.engine, REVOCATION_CHANNEL, forget_principal))
            if db.dialect == "postgresql"
            else None
        )
        if isinstance(bus, NatsFixPublisher):
            await bus.start()
        gateways = None
        if settings.gateways_in_app:
            from tamga.ingest.gateways import Gateways

            gateways = Gateways(settings, db, bus)
            await gateways.start()
        app.state.gateways = gateways
        monitoring = None
        if settings.monitoring_in_app:
            feed = bus if isinstance(bus, FixBus) else NatsFixConsumer(bus.config)
            monitoring = MonitoringTasks(db, feed, settings, hub)
            monitoring.start()
        app.state.monitoring = monitoring
        taxation = None
        if settings.tax_tasks_in_app:  # the register sender (when configured) and the deadline tick
            from tamga.taxation.tasks import TaxTasks

            taxation = TaxTasks(db, settings)
            taxation.start()
        app.state.taxation = taxation
        yield
        if taxation is not None:
            await taxation.stop()
        if gateways is not None:
            await gateways.stop()
        await close_publisher(bus)
        if monitoring is not None:
            await monitoring.stop()
        if relay is not None:
            await relay.stop()
        if revocations is not None:
            revocations.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await revocations
        if database is None:
            await db.dispose()

    app = FastAPI(
        title="tamga",
        version=__version__,
        summary="Uniform digital platform for cross-border trade in the Union State of Russia and Belarus",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.bus = bus  # newly stored fixes, for the monitoring engine
    app.state.alarm_hub = hub  # alarm changes, for the live streams
    install_error_handlers(app)

    # Each feature's router straight on the application, under the API prefix: FastAPI matches a
    # request through every level of included routers (twice: to choose, then to handle), so a nested
    # /api/v1 router cost each request more CPU than its endpoint's own work on the transit path.
    # FastAPI tries the routes in the order they were included, about 2 us each: the transit steps and
    # the devices' HTTP ingest (the hot paths) first.
    for router in (
        transit_endpoints.router,
        ingest_endpoints.router,
        auth_endpoints.router,
        parties_endpoints.router,
        reference_endpoints.router,
        monitoring_endpoints.router,
        rates_endpoints.router,
        clearance_endpoints.router,
        risk_endpoints.router,
        taxation_endpoints.router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Say the process is up."""
        return {"status": "ok", "version": __version__}

    # Each add_middleware wraps what was added before: the body limit runs first, then idempotency
    # (which reads the body), then the scope that closes each request's session as its response starts.
    app.add_middleware(SessionScopeMiddleware)
    app.add_middleware(
        IdempotencyMiddleware, database=lambda: app.state.db, identify=idempotency_identity(settings)
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
