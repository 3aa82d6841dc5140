"""The NATS JetStream server the bus tests run against (TAMGA_TEST_NATS_URL), and a bus of their own on
it: a stream, subject and consumer named for the test, deleted afterwards.

Skipped locally without a server; with CI=true a missing server fails the run."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import pytest
from tests.conftest import IN_CI

from tamga.ingest.nats_bus import NatsBusConfig

NATS_URL = os.environ.get("TAMGA_TEST_NATS_URL")


def require_nats() -> str:
    """The server's URL; skip the calling module without one (fail under CI)."""
    if not NATS_URL:
        if IN_CI:
            raise RuntimeError(
                "CI=true but TAMGA_TEST_NATS_URL is not set: the NATS tests may not be skipped"
            )
        pytest.skip("TAMGA_TEST_NATS_URL is not set", allow_module_level=True)
    return NATS_URL


@asynccontextmanager
async def own_bus(url: str, **limits: float) -> AsyncIterator[NatsBusConfig]:
    """A bus of the test's own on the server; its stream (and so its consumers) deleted at the end."""
    run = uuid.uuid4().hex[:12]
    config = NatsBusConfig(
        url=url,
        stream=f"TAMGA_TEST_{run}",
        subject=f"tamga-test.{run}.fixes",
        consumer=f"monitoring-{run}",
        **limits,
    )
    try:
        yield config
    finally:
        nc = await nats.connect(url)
        try:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await nc.jetstream().delete_stream(config.stream)
        finally:
            await nc.close()
