"""The whole monitoring pipeline under a test's clock: a live server whose fixes come in through
`POST /api/v1/telemetry`, are stored, go over the fix bus to the monitoring consumer and the engine, and
come out as alarms and timeline entries read back through the API.

The consumer's clock is the test's (`SimClock`): trips run hours ahead of the wall clock in a second, the
engine refuses nothing as "from the future", and the time tick runs only when a test calls it. Expected
outcomes come from the per-fix reference (`tamga.monitoring.reference`), the specification, fed the same
fixes in the same batches; each scenario also states by hand which rules fire at which fix.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from tests.conftest import Backend, _free_port
from tests.ingest.devices import api_key
from tests.support.builders import admin, declaration, item, ok, seal, tag, user, world

from tamga.app import create_app
from tamga.auth.domain import Role
from tamga.ingest.fix import Fix
from tamga.ingest.gateways import Gateways
from tamga.monitoring import reference, repository, service
from tamga.monitoring.domain import AlarmEvent, EventKind, MovementPlan, MovementState, Rule
from tamga.monitoring.service import Monitor
from tamga.monitoring.tasks import MonitoringTasks
from tamga.parties import repository as parties
from tamga.simulate.corridors import Corridor
from tamga.simulate.devices import EgtsDevice, fix_document

BATCH = 60
# Goods outside every category tracked with navigation seals, so the default thresholds apply.
PLAIN_GOODS = [
    item(1, hs_code="0808108000", description="Fresh apples", value="3000.00", currency="USD", origin="PL"),
    item(2, hs_code="8708999709", description="Car parts", value="9000.00", currency="EUR", origin="DE"),
]

Outcome = tuple[Rule, str, datetime, datetime | None]  # rule, open/close, when, the deciding fix's time


@dataclass
class SimClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Released:
    """A released movement on a corridor, its seal's device id and key, and its monitoring plan."""

    movement: dict[str, Any]
    device_id: str
    key: str
    plan: MovementPlan
    expected: list[AlarmEvent] = field(default_factory=list)
    states: dict[int, MovementState] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.movement["id"])

    @property
    def released_at(self) -> datetime:
        return datetime.fromisoformat(self.movement["released_at"])


@dataclass
class Pipeline:
    backend: Backend
    app: FastAPI
    http: httpx.AsyncClient
    monitor: Monitor
    clock: SimClock
    officers: dict[str, dict[str, str]] = field(default_factory=dict)
    sent: int = 0

    async def release(
        self,
        corridor: Corridor,
        *,
        start: str | None = None,
        time_limit: datetime | None = None,
        goods: Sequence[dict[str, Any]] = PLAIN_GOODS,
        egts: bool = False,
    ) -> Released:
        """Lodge, accept and release a movement along `corridor` (from its office `start`)."""
        w = await world(self.http, seals=0)
        if egts:
            serial = f"ENS-{tag()}"
            imei = str(random.randrange(10**14, 10**15))  # EGTS identifies a terminal by a 15-digit IMEI
            body = {
                "serial": serial,
                "national_operator": "BY",
                "protocol": "egts",
                "device_id": imei,
                "device_secret": "device-secret-1",
            }
            ok(await self.http.post("/api/v1/seals", json=body, headers=w.carrier), 201)
        else:
            serial = await seal(self.http, w.carrier)
        places = corridor.itinerary()
        first = next(
            i for i, p in enumerate(places) if p.get("office_code") == (start or corridor.start_office)
        )
        places = places[first:]
        departure = str(places[0]["office_code"])
        body = declaration(
            w,
            seals=[serial],
            departure_office=departure,
            destination_office=corridor.end_office,
            transit_offices=[],
            itinerary=places,
            items=list(goods),
        )
        officer = await self.officer(departure, w.officers.get(departure))
        m = ok(await self.http.post("/api/v1/movements", json=body, headers=w.declarant), 201)
        ok(await self.http.post(f"/api/v1/movements/{m['id']}/accept", headers=officer))
        release = {"time_limit": time_limit.isoformat()} if time_limit else {}
        m = ok(await self.http.post(f"/api/v1/movements/{m['id']}/release", json=release, headers=officer))
        async with self.backend.db.session() as session:
            row = await parties.seal_by_serial(session, serial)
            assert row is not None
            seal_id, device_id = row.id, row.device_id
            movements = await repository.movements_by_ids(session, [m["id"]])
            plan = (await service.plans_of(session, movements))[m["id"]]
        key = await api_key(self.backend.db, Role.DEVICE, seal_id)
        self.clock.now = max(self.clock.now, plan.released_at)
        return Released(m, device_id, key, plan)

    @asynccontextmanager
    async def egts_terminal(self, released: Released) -> AsyncIterator[EgtsDevice]:
        """The seal as an EGTS terminal connected to a gateway feeding this server's bus."""
        settings = self.backend.settings.model_copy(
            update={"egts_port": 0, "wialon_enabled": False, "mqtt_url": None}
        )
        gateways = Gateways(settings, self.backend.db, self.app.state.bus)
        await gateways.start()
        try:
            assert gateways.egts is not None
            terminal = EgtsDevice(released.device_id, 7, "127.0.0.1", gateways.egts.port)
            await terminal.connect()
            try:
                yield terminal
            finally:
                await terminal.close()
        finally:
            await gateways.stop()

    async def restart_monitoring(self) -> None:
        """Stop the monitoring consumer as a crash would (its in-memory state is lost), start a new one
        on the same bus and clock, and wait until it has rebuilt its state and consumes."""
        await self.app.state.monitoring.stop()
        settings = self.app.state.settings
        tasks = MonitoringTasks(
            self.backend.db, self.app.state.bus, settings, self.app.state.alarm_hub, clock=self.clock
        )
        self.app.state.monitoring = tasks
        tasks.start()
        await asyncio.wait_for(tasks.monitor.ready.wait(), 30)
        self.monitor, self.sent = tasks.monitor, 0

    async def replan(self, released: Released) -> None:
        """Read the movement's plan again (after its monitoring settings changed)."""
        async with self.backend.db.session() as session:
            movements = await repository.movements_by_ids(session, [released.id])
            released.plan = (await service.plans_of(session, movements))[released.id]

    async def officer(self, office: str, known: dict[str, str] | None) -> dict[str, str]:
        if known is not None:
            return known
        if office not in self.officers:
            country = "RU" if len(office) == 8 else "BY"
            self.officers[office] = await user(
                self.http, "customs_officer", country=country, office_code=office
            )
        return self.officers[office]

    async def send(
        self, released: Released, fixes: Sequence[Fix], *, egts: EgtsDevice | None = None, wait: bool = True
    ) -> None:
        """Send the fixes in batches as the seal, over HTTP or through the EGTS gateway (`egts`, a
        connected terminal); wait until the consumer has taken each batch (unless not `wait`: no
        consumer is running). The reference takes the same batches at the same `now`."""
        for i in range(0, len(fixes), BATCH):
            chunk = fixes[i : i + BATCH]
            self.clock.now = max(self.clock.now, chunk[-1].time + timedelta(seconds=1))
            if egts is not None:
                assert await egts.send(chunk) == 0  # every record confirmed at the first attempt
            else:
                body = {"fixes": [fix_document(f, 0.001) for f in chunk]}
                headers = {"Authorization": f"Bearer {released.key}"}
                accepted = ok(await self.http.post("/api/v1/telemetry", json=body, headers=headers))
                assert accepted["stored"] == len(chunk), accepted
            self.sent += len(chunk)
            if wait:
                await self.settle()
            result = reference.process_batch(
                {released.id: released.plan},
                released.states,
                [(released.id, f) for f in chunk],
                self.clock.now,
            )
            released.expected += result.events

    async def tick(self, released: Released, at: datetime) -> None:
        """Run the time rules at `at`, in the pipeline and in the reference."""
        self.clock.now = at
        await self.monitor.tick(self.backend.db, at)
        released.expected += reference.check_time({released.id: released.plan}, released.states, at)

    async def settle(self, timeout_s: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.monitor.fixes_seen < self.sent:
            assert loop.time() < deadline, f"the consumer took {self.monitor.fixes_seen} of {self.sent}"
            await asyncio.sleep(0.02)

    async def alarms(self, released: Released) -> list[dict[str, Any]]:
        page = ok(
            await self.http.get(
                "/api/v1/alarms", params={"movement_id": released.id}, headers=await admin(self.http)
            )
        )
        items: list[dict[str, Any]] = page["items"]
        return items

    async def timeline(self, released: Released) -> list[dict[str, Any]]:
        m = ok(await self.http.get(f"/api/v1/movements/{released.id}", headers=await admin(self.http)))
        events: list[dict[str, Any]] = m["events"]
        return events

    async def outcomes(self, released: Released) -> list[Outcome]:
        """What the pipeline persisted: each alarm's opening and (by the engine) its clearing."""
        out: list[Outcome] = []
        for alarm in await self.alarms(released):
            rule = Rule(alarm["rule"])
            evidence = alarm["evidence"]
            fix_time = datetime.fromisoformat(evidence[-1]["time"]) if evidence else None
            out.append((rule, "open", datetime.fromisoformat(alarm["opened_at"]), fix_time))
            if alarm["resolved_by"] == service.SYSTEM_ACTOR:
                cleared = alarm["details"]["cleared_evidence"]
                at = datetime.fromisoformat(alarm["resolved_at"])
                out.append((rule, "close", at, datetime.fromisoformat(cleared[-1]["time"])))
        return sorted(out, key=_order)

    async def crossings(self, released: Released) -> list[dict[str, Any]]:
        return [e["details"] for e in await self.timeline(released) if e["kind"] == "border_crossing"]


def _order(o: Outcome) -> tuple[datetime, str, str]:
    return (o[2], o[0].value, o[1])


def expected_outcomes(released: Released) -> list[Outcome]:
    """What the reference says the pipeline should have persisted."""
    out: list[Outcome] = []
    for event in released.expected:
        if event.kind is EventKind.EVENT:
            continue
        fix_time = event.evidence[-1].time if event.evidence else None
        out.append((event.rule, event.kind.value, event.at, fix_time))
    return sorted(out, key=_order)


def expected_crossings(released: Released) -> list[tuple[str, str]]:
    return [
        (str(e.details["from"]), str(e.details["to"]))
        for e in released.expected
        if e.rule is Rule.BORDER_CROSSING
    ]


def numbered(fixes: Sequence[Fix], device_id: str) -> list[Fix]:
    """The fixes as the registered seal sends them: its device id, record numbers in order."""
    return [dataclasses.replace(f, device_id=device_id, record_id=i) for i, f in enumerate(fixes)]


@asynccontextmanager
async def running(backend: Backend) -> AsyncIterator[Pipeline]:
    """A live server of its own on the backend's database, its monitor on a test clock, no timed tick."""
    settings = backend.settings.model_copy(update={"monitoring_tick_s": 86_400.0})
    app = create_app(settings, backend.db)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning", lifespan="on")
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    clock = SimClock(datetime.now(UTC))
    monitor: Monitor = app.state.monitoring.monitor
    monitor.clock = clock
    port = server.config.port
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            yield Pipeline(backend, app, http, monitor, clock)
    finally:
        server.should_exit = True
        await task
        await app.state.monitoring.stop()  # a restarted one, which the lifespan does not know
