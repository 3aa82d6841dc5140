"""`tamga ingest` (the real CLI, in its own process) monitors what its gateways store: the bus is in that
process, so its fixes are monitored there or not at all. A seal opened on the road, reported over EGTS to
that process, opens an alarm, on each database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.conftest import Backend
from tests.monitoring.pipeline import numbered, running
from tests.monitoring.tracks import Trip
from tests.support.ingest_process import Server, alarms_after_egts, free_port

from tamga.monitoring.domain import Rule
from tamga.simulate.corridors import CORRIDORS

KOZLOVICHI_MINSK = CORRIDORS["m1-kozlovichi-brest-minsk"]


async def test_tamga_ingest_monitors_what_its_gateways_store(backend: Backend, tmp_path: Path) -> None:
    async with running(backend) as pipeline:  # the API, to release a movement under an EGTS seal
        released = await pipeline.release(KOZLOVICHI_MINSK, egts=True)
    # Real time: the process's engine refuses fixes dated more than five minutes ahead of its clock.
    t = Trip(released.plan, start=released.plan.released_at + timedelta(seconds=1), period_s=5.0)
    t.drive(3, 60).seal(opened=True).drive(0.5, 60)  # opened 3 km out of Kozlovichi, on the road
    fixes = numbered([f for _, f in t.fixes()], released.device_id)

    server = Server(backend.url, free_port(), tmp_path / "ingest.log")
    server.start(wialon_enabled="false", monitoring_tick_s="3600")
    try:
        rules = await alarms_after_egts(server, backend.db, released.id, released.device_id, fixes)
        assert rules == [Rule.SEAL_OPENED.value], server.log.read_text()
    finally:
        server.stop()
    assert "monitoring the fixes stored here" in server.log.read_text()
