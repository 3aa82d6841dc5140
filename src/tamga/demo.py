"""`tamga demo`: the platform on its embedded defaults, seeded, with movements and trucks under seal.

The demo is a sequence of steps, each one call in `_demo` (add a pillar's sample data as one more step):

1. `seed`: businesses of both states, users, vehicles, seals (EGTS, Wialon IPS; MQTT when a broker is
   configured), guarantees;
2. `Platform`: the HTTP API, the device gateways (EGTS, Wialon IPS, MQTT) and monitoring, on 127.0.0.1;
3. `run_procedure`: sample movements from lodging to discharge over HTTP;
4. `release_for_trucks`: a movement along each of the Union's corridors of `tamga.simulate`, released;
5. `simulate`: a truck per released movement reporting to the gateways over the device protocols, in
   accelerated time (the monitoring engine runs on the same accelerated clock), with a live display;
   each truck's arrival is recorded by the office of destination;
6. serve until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import httpx
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.app import create_app
from tamga.auth import repository as auth_repo
from tamga.auth import service as auth_service
from tamga.auth.domain import Principal, Role
from tamga.clearance import demo as clearance_demo
from tamga.config import Settings
from tamga.ingest import store
from tamga.kit.clock import utcnow
from tamga.kit.db import Database, commit
from tamga.kit.migrate import upgrade_async
from tamga.monitoring import repository as monitoring_repository
from tamga.parties import schemas as party_schemas
from tamga.parties import service as parties
from tamga.parties import synthetic
from tamga.parties.domain import AeoStatus, SealOperator, SealProtocol
from tamga.rates.service import load_samples
from tamga.reference.catalog import load_catalog
from tamga.simulate.corridors import CORRIDORS, Corridor
from tamga.simulate.display import FleetView, PlatformSide, alarm_table
from tamga.simulate.runner import Endpoints, SealSpec, TruckResult, demo_secret, run_fleet
from tamga.simulate.trucks import Track, plan_track
from tamga.taxation import demo as tax_demo
from tamga.transit import schemas as transit_schemas
from tamga.transit import service as transit

DEMO_PASSWORD = "tamga-demo-password"  # noqa: S105 (printed for the demo user)
SYSTEM = Principal(subject="system:demo", name="demo seed", role=Role.ADMINISTRATOR)

# (office, state) of the officers the demo logs in as
OFFICERS = {
    "officer.brest": ("09131", "BY"),  # Kozlovichi, Poland–Belarus border: departure
    "officer.redki": ("07290", "BY"),  # Redki, Belarus side of the Russia–Belarus line on M1
    "officer.krasnoye": ("10113090", "RU"),  # Krasnoye, Russian side of that line
    "officer.smolensk": ("10113110", "RU"),  # Smolensk: destination
    "officer.moscow": ("10013010", "RU"),  # Noginsk, Moscow region: destination
    "officer.kamenny": ("16133", "BY"),  # Kamenny Log, Lithuania–Belarus border: departure
    "officer.minsk": ("06611", "BY"),  # Minsk: destination
    # the ends of the simulator's corridors
    "officer.warsaw-bridge": ("09132", "BY"),  # Warsaw Bridge, Brest–Terespol: departure
    "officer.bruzgi": ("16131", "BY"),  # Bruzgi, Poland–Belarus border near Grodno: departure
    "officer.grigorovschina": ("07131", "BY"),  # Grigorovschina, Latvia–Belarus border: departure
    "officer.minsk-central": ("02000", "BY"),  # Minsk Central Customs: destination
    "officer.smolensk-customs": ("10113000", "RU"),  # Smolensk Customs: destination
    "officer.moscow-regional": ("10013000", "RU"),  # Moscow Regional Customs: destination
}

# (departure, border offices, destination, holder) for the sample movements
ROUTES: list[tuple[str, list[str], str, str]] = [
    ("09131", ["07290", "10113090"], "10113110", "ru"),  # Kozlovichi -> Smolensk along M1
    ("09131", ["07290", "10113090"], "10013010", "ru"),  # Kozlovichi -> Moscow region
    ("16133", [], "06611", "by"),  # Kamenny Log -> Minsk
]

GOODS = [
    ("8471300000", "Portable computers", Decimal("1.8"), Decimal("950.00"), "CN"),
    ("8517130000", "Smartphones", Decimal("0.4"), Decimal("420.00"), "CN"),
    ("6403999800", "Leather footwear", Decimal("1.1"), Decimal("65.00"), "IT"),
    ("0808108000", "Fresh apples", Decimal("1000"), Decimal("900.00"), "PL"),
    ("8708999709", "Car parts", Decimal("12.5"), Decimal("140.00"), "DE"),
]


@dataclass
class DemoWorld:
    """What the seed made: ids and logins the demo flow uses."""

    operators: dict[str, int] = field(default_factory=dict)
    names: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # key -> (name, country, tax id)
    guarantees: dict[str, tuple[str, str]] = field(default_factory=dict)  # holder -> (grn, access code)
    seals: list[str] = field(default_factory=list)
    carrier_id: int = 0


async def seed(session: AsyncSession, rng: random.Random, *, mqtt: bool = False) -> DemoWorld:
    """Create the demo's operators, users, vehicles, seals and guarantees (once); with `mqtt`, every
    fourth seal reports over MQTT. Loads the sample exchange rates first (idempotent): a lodging's
    amount at stake is estimated at the rates in force."""
    await load_samples(session)
    world = DemoWorld()
    ru_inn = synthetic.inn_legal(rng, 67)
    by_unp = synthetic.unp(rng, 1)
    carrier_inn = synthetic.inn_legal(rng, 77)
    specs = {
        "ru": party_schemas.OperatorCreate(
            country="RU",
            name="OOO Smolensk Logistic Trade",
            tax_id=ru_inn,
            kpp=synthetic.kpp(ru_inn),
            ogrn=synthetic.ogrn(rng, 67),
            region="RU-SMO",
            aeo_status=AeoStatus.TYPE1,
            aeo_certificate="RU/0001/AEO1",
        ),
        "by": party_schemas.OperatorCreate(
            country="BY", name="OAO Minsk Import", tax_id=by_unp, region="BY-HM"
        ),
        "carrier": party_schemas.OperatorCreate(
            country="RU",
            name="OOO TransSever Carrier",
            tax_id=carrier_inn,
            kpp=synthetic.kpp(carrier_inn),
            region="RU-MOW",
            is_carrier=True,
        ),
    }
    for key, spec in specs.items():
        world.operators[key] = (await parties.register_operator(session, SYSTEM, spec)).id
        world.names[key] = (spec.name, spec.country, spec.tax_id)
    world.carrier_id = world.operators["carrier"]
    await auth_service.create_user(
        session, None, username="admin", password=DEMO_PASSWORD, role=Role.ADMINISTRATOR
    )
    for key in ("ru", "by"):
        await auth_service.create_user(
            session,
            None,
            username=f"declarant.{key}",
            password=DEMO_PASSWORD,
            role=Role.DECLARANT,
            operator_id=world.operators[key],
        )
    await auth_service.create_user(
        session,
        None,
        username="carrier",
        password=DEMO_PASSWORD,
        role=Role.CARRIER,
        operator_id=world.carrier_id,
    )
    for username, (office, country) in OFFICERS.items():
        await auth_service.create_user(
            session,
            None,
            username=username,
            password=DEMO_PASSWORD,
            role=Role.CUSTOMS_OFFICER,
            country=country,
            office_code=office,
        )
    for country in ("RU", "BY"):
        await auth_service.create_user(
            session,
            None,
            username=f"tax.{country.lower()}",
            password=DEMO_PASSWORD,
            role=Role.TAX_OFFICER,
            country=country,
        )
    carrier = Principal(subject="system:demo", name="demo", role=Role.ADMINISTRATOR)
    for n in range(12):
        await parties.register_vehicle(
            session,
            carrier,
            party_schemas.VehicleCreate(plate=f"A{100 + n}BC67", country="RU", carrier_id=world.carrier_id),
        )
        serial = f"ENS-{'RU' if n % 2 else 'BY'}-{10000 + n}"
        await parties.register_seal(
            session,
            carrier,
            party_schemas.SealCreate(
                serial=serial,
                national_operator=SealOperator.RU if n % 2 else SealOperator.BY,
                protocol=_seal_protocol(n, mqtt),
                device_id=f"86{n:013d}",
                device_secret=f"secret-{n:04d}",
                carrier_id=world.carrier_id,
            ),
        )
        world.seals.append(serial)
    for key, currency, amount in (("ru", "RUB", Decimal("900000000")), ("by", "BYN", Decimal("30000000"))):
        code = f"{key.upper()}77"
        g = await transit.register_guarantee(
            session,
            SYSTEM,
            transit_schemas.GuaranteeCreate(
                holder_id=world.operators[key],
                kind=transit_schemas.GuaranteeKind.COMPREHENSIVE,
                currency=currency,
                reference_amount=amount,
                valid_from=date(2025, 1, 1),
                access_code=code,
            ),
        )
        world.guarantees[key] = (g.grn, code)
    return world


def holder_of(corridor: Corridor) -> str:
    """Give which demo business holds a movement along `corridor`: the one of its destination's state."""
    office = load_catalog().office(corridor.end_office)
    return "by" if office is not None and office.country == "BY" else "ru"


def _seal_protocol(n: int, mqtt: bool) -> SealProtocol:
    if mqtt and n % 4 == 3:
        return SealProtocol.MQTT
    return SealProtocol.EGTS if n % 3 else SealProtocol.WIALON_IPS


def declaration(
    world: DemoWorld,
    n: int,
    rng: random.Random,
    seal: str,
    *,
    corridor: Corridor | None = None,
    max_quantity: int = 400,
) -> dict[str, Any]:
    """Give a sample transit declaration (JSON) for route n, or along `corridor` (its itinerary)."""
    departure, borders, destination, holder = ROUTES[n % len(ROUTES)]
    if corridor is not None:
        departure, borders, destination = corridor.start_office, [], corridor.end_office
        holder = holder_of(corridor)
    grn, code = world.guarantees[holder]
    items = []
    for i, (hs, desc, kg, price, origin) in enumerate(rng.sample(GOODS, k=3), start=1):
        qty = rng.randint(20, max_quantity)
        net = kg * qty
        items.append(
            {
                "hs_code": hs,
                "description": desc,
                "packages": max(1, qty // 10),
                "gross_mass_kg": str(net * Decimal("1.08")),
                "net_mass_kg": str(net),
                "value": str(price * qty),
                "currency": "EUR" if i % 2 else "USD",
                "origin": origin,
            }
        )
    name, country, tax_id = world.names[holder]
    consignee = {"name": name, "country": country, "identifier": tax_id}
    body: dict[str, Any] = {
        "lrn": f"DEMO-{n:05d}-{rng.randrange(10**6):06d}",
        "carrier_id": world.carrier_id,
        "consignor": {"name": "Shenzhen Export Co. Ltd", "country": "CN", "address": "Shenzhen"},
        "consignee": consignee,
        "departure_office": departure,
        "destination_office": destination,
        "transit_offices": borders,
        "vehicles": [{"plate": f"A{100 + n % 12}BC67", "country": "RU"}],
        "seals": [seal],
        "guarantee": {"grn": grn, "access_code": code},
        "items": items,
    }
    if corridor is not None:
        body["itinerary"] = corridor.itinerary()
    return body


class DemoClient:
    """Logs in as the demo's people and calls the API as they would."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.tokens: dict[str, str] = {}

    async def as_(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            r = await self.http.post(
                "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
            )
            r.raise_for_status()
            self.tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def post(self, username: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.http.post(f"/api/v1{path}", json=body or {}, headers=await self.as_(username))
        if r.status_code >= 400:
            raise RuntimeError(f"{path}: {r.status_code} {r.text}")
        result: dict[str, Any] = r.json()
        return result


async def run_movement(
    client: DemoClient, world: DemoWorld, n: int, rng: random.Random, seal: str
) -> dict[str, Any]:
    """Take one sample movement from lodging to discharge; give its final state."""
    departure, borders, destination, holder = ROUTES[n % len(ROUTES)]
    officer_at = {office: name for name, (office, _) in OFFICERS.items()}
    decl = declaration(world, n, rng, seal)
    m = await client.post(f"declarant.{holder}", "/movements", decl)
    ref = str(m["id"])
    m = await client.post(officer_at[departure], f"/movements/{ref}/accept")
    ref = m["mrn"]
    await client.post(officer_at[departure], f"/movements/{ref}/release", {})
    for border in borders:
        await client.post(officer_at[border], f"/movements/{ref}/crossings", {"office_code": border})
    await client.post(officer_at[destination], f"/movements/{ref}/arrival", {})
    await client.post(
        officer_at[destination], f"/movements/{ref}/unloading-remarks", {"discrepancies": False}
    )
    return await client.post(officer_at[destination], f"/movements/{ref}/discharge", {})


# --- the platform ----------------------------------------------------------------------------------

TICK_S: Final = 1.0  # the time rules run every real second (minutes of accelerated time)


# How far the monitoring engine's clock trails the simulated one. Accelerated, the pipeline's latency
# (a device's round trip, a durable commit, a batch's wait) is multiplied by the speed-up: a tick at the
# simulation's own time would find trucks silent whose fixes are on their way. Trailing by less than the
# engine's tolerance for fixes from the future (five minutes) costs nothing else.
MONITOR_LAG: Final = timedelta(minutes=3)


class SimulatedClock:
    """Time that runs `speed_up` times faster than the wall clock from `start` (less `lag`), until
    `settle`; then at the wall clock's pace from where it got to."""

    def __init__(self, start: datetime, speed_up: float, lag: timedelta = MONITOR_LAG) -> None:
        self.start, self.speed_up, self.lag = start, speed_up, lag
        self._began = time.monotonic()
        self._settled: tuple[datetime, float] | None = None

    def __call__(self) -> datetime:
        if self._settled is not None:
            at, since = self._settled
            return at + timedelta(seconds=time.monotonic() - since)
        elapsed = timedelta(seconds=(time.monotonic() - self._began) * self.speed_up)
        return self.start + max(elapsed - self.lag, timedelta(0))

    def settle(self) -> None:
        """Go on at the wall clock's pace from now on."""
        self._settled = (self(), time.monotonic())


@dataclass
class Platform:
    """The running platform: the HTTP API with the gateways and monitoring in its process."""

    app: FastAPI
    server: uvicorn.Server
    serving: asyncio.Task[None]
    settings: Settings

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.server.config.port}"

    def use_clock(self, clock: SimulatedClock) -> None:
        """Run the monitoring engine (its batches and its time rules) on `clock`."""
        self.app.state.monitoring.monitor.clock = clock

    async def monitored(self) -> int:
        """Give how many fixes the monitoring engine has taken."""
        return int(self.app.state.monitoring.monitor.fixes_seen)


@asynccontextmanager
async def running_platform(
    settings: Settings, db: Database, port: int, *, speed_up: float = 1.0
) -> AsyncIterator[Platform]:
    """Start the API, the gateways and monitoring on `db`; stop them when the context ends. Monitoring's
    batches wait at most half a simulated minute, so that accelerated time does not stretch them."""
    wait_s = min(settings.monitoring_batch_max_wait_s, 30.0 / speed_up)
    settings = settings.model_copy(
        update={
            "gateways_in_app": True,
            "monitoring_in_app": True,
            "monitoring_tick_s": TICK_S,
            "monitoring_batch_max_wait_s": wait_s,
        }
    )
    app = create_app(settings, db)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.http_host, port=port, log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            raise RuntimeError("the server stopped while starting")
        await asyncio.sleep(0.05)
    platform = Platform(app, server, serving, settings)
    try:
        yield platform
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving


# --- the steps -------------------------------------------------------------------------------------


async def run_procedure(client: DemoClient, world: DemoWorld, rng: random.Random, count: int) -> Table:
    """Step: take `count` sample movements from lodging to discharge; give their table."""
    table = Table(
        "movement", "route", "status", "stake", title="sample movements, lodged to discharged over HTTP"
    )
    for n in range(count):
        final = await run_movement(client, world, n, rng, world.seals[n % len(world.seals)])
        route = f"{final['departure_office']} -> {final['destination_office']}"
        table.add_row(
            final["mrn"], route, final["status"], f"{final['amount_at_stake']} {final['amount_currency']}"
        )
    return table


# The corridors the trucks drive, in turn, and the incidents each truck meets, in turn.
TRUCK_CORRIDORS: Final = (
    "m7-kamenny-log-minsk",
    "m6-bruzgi-grodno-minsk",
    "m1-kozlovichi-brest-minsk",
    "p20-grigorovschina-vitebsk-smolensk",
    "m1-brest-moscow",
)
TRUCK_INCIDENTS: Final = (
    ("detour", "field_stop"),
    ("lost_signal", "night_opening"),
    ("black_box", "late_arrival"),
    ("field_stop", "night_opening"),
    ("detour", "lost_signal"),
    ("black_box", "detour"),
)


@dataclass(frozen=True)
class TruckMovement:
    """A released movement and the truck that carries it: its seal, corridor and incidents."""

    mrn: str
    seal: SealSpec
    corridor: Corridor
    incidents: tuple[str, ...]


async def seal_specs(db: Database, serials: Sequence[str]) -> dict[str, SealSpec]:
    """Give the simulator's view of the demo's seals: device id, protocol, demo secret, by serial."""
    from tamga.parties import repository as parties_repository

    specs: dict[str, SealSpec] = {}
    async with db.session() as session:
        for serial in serials:
            row = await parties_repository.seal_by_serial(session, serial)
            if row is not None:
                specs[serial] = SealSpec(row.device_id, row.protocol, demo_secret(row.device_id))
    return specs


async def release_for_trucks(
    client: DemoClient, world: DemoWorld, db: Database, rng: random.Random, trucks: int, *, mqtt: bool
) -> list[TruckMovement]:
    """Step: lodge, accept and release a movement along a corridor for each of `trucks` seals."""
    specs = await seal_specs(db, world.seals)
    usable = [s for s in world.seals if s in specs and (mqtt or specs[s].protocol != "mqtt")]
    officer_at = {office: name for name, (office, _) in OFFICERS.items()}
    released = []
    for i, serial in enumerate(usable[:trucks]):
        corridor = CORRIDORS[TRUCK_CORRIDORS[i % len(TRUCK_CORRIDORS)]]
        decl = declaration(world, 100 + i, rng, serial, corridor=corridor, max_quantity=60)
        m = await client.post(f"declarant.{holder_of(corridor)}", "/movements", decl)
        departure = officer_at[corridor.start_office]
        m = await client.post(departure, f"/movements/{m['id']}/accept")
        m = await client.post(departure, f"/movements/{m['mrn']}/release", {})
        released.append(
            TruckMovement(m["mrn"], specs[serial], corridor, TRUCK_INCIDENTS[i % len(TRUCK_INCIDENTS)])
        )
    return released


async def _platform_side(db: Database, platform: Platform) -> PlatformSide:
    async with db.session() as session:
        stored = await store.count_fixes(session)
        open_by_rule, raised_by_rule = await monitoring_repository.alarm_counts(session)
    return PlatformSide(stored, await platform.monitored(), open_by_rule, raised_by_rule)


async def simulate(
    platform: Platform,
    client: DemoClient,
    db: Database,
    movements: Sequence[TruckMovement],
    *,
    speed_up: float,
    hours: float | None,
    console: Console,
) -> tuple[list[TruckResult], PlatformSide]:
    """Step: drive a truck per movement through the gateways in accelerated time, with a live view;
    record each arrival; give the trucks' results and what the platform made of them."""
    start = utcnow().replace(microsecond=0) + timedelta(seconds=1)
    clocks: list[SimulatedClock] = []

    def started() -> None:  # the trucks are connected: simulated time begins for them and monitoring
        clocks.append(SimulatedClock(start, speed_up))
        platform.use_clock(clocks[0])

    settings = platform.settings
    endpoints = Endpoints(
        host=settings.gateway_host,
        egts_port=settings.egts_port,
        wialon_port=settings.wialon_port,
        mqtt_url=settings.mqtt_url,
        mqtt_topic=settings.mqtt_topic,
    )
    duration = timedelta(hours=hours) if hours is not None else None
    until = start + duration if duration is not None else None
    plans: list[tuple[SealSpec, Track]] = [
        (m.seal, plan_track(m.corridor, start, 1000 + i, incidents=m.incidents))
        for i, m in enumerate(movements)
    ]
    totals = [sum(1 for p in track.points if until is None or p.time < until) for _, track in plans]
    view = FleetView(
        plans,
        totals,
        title=f"trucks under seal, {speed_up:g}x accelerated",
        footer=f"console and API: [bold]{platform.base_url}/docs[/bold]",
    )
    officer_at = {office: name for name, (office, _) in OFFICERS.items()}
    arrivals: list[asyncio.Task[dict[str, Any]]] = []

    def progressed(index: int, result: TruckResult, note: str | None) -> None:
        view.progressed(index, result, note)
        if note == "arrived":
            movement = movements[index]
            officer = officer_at[movement.corridor.end_office]
            arrivals.append(asyncio.create_task(client.post(officer, f"/movements/{movement.mrn}/arrival")))

    async def refresh() -> None:
        while True:
            view.platform = await _platform_side(db, platform)
            await asyncio.sleep(0.5)

    with Live(view, console=console, refresh_per_second=4, transient=False) as live:
        refreshing = asyncio.create_task(refresh())
        try:
            results = await run_fleet(
                plans,
                endpoints,
                start=start,
                speed_up=speed_up,
                duration=duration,
                progressed=progressed,
                on_start=started,
            )
            # let monitoring take what the gateways confirmed last (a batch waits up to half a second)
            for _ in range(100):
                side = await _platform_side(db, platform)
                if side.monitored >= side.stored:
                    break
                await asyncio.sleep(0.1)
            await asyncio.gather(*arrivals)
        finally:
            refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refreshing
        for clock in clocks:
            clock.settle()
        view.platform = await _platform_side(db, platform)
        live.update(view, refresh=True)
    return results, view.platform


def _declarations_table(cleared: clearance_demo.DemoClearance) -> Table:
    table = Table(title="Goods declarations (customs clearance)")
    for column in ("registration number", "status", "lane"):
        table.add_column(column)
    for ref, status, lane in cleared.declarations:
        table.add_row(ref, status, lane)
    return table


def _summary(results: Sequence[TruckResult]) -> Table:
    table = Table("seal", "protocol", "corridor", "incidents", "confirmed", "error", title="trucks")
    for r in results:
        table.add_row(
            r.device_id,
            r.protocol,
            r.corridor,
            ", ".join(r.incidents),
            str(r.live + r.black_box),
            r.error or "",
        )
    return table


def _alarm_table(side: PlatformSide) -> Table:
    table = alarm_table(side)
    table.title = f"fixes stored {side.stored}, alarms raised {side.alarms_total}"
    table.title_justify = "left"
    return table


# --- the demo --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoOptions:
    """What `tamga demo` was asked for."""

    port: int
    movements: int = 6
    trucks: int = 6
    speed_up: float = 600.0
    sim_hours: float | None = None
    serve_after: bool = True


async def _serve_until_stopped(platform: Platform, console: Console) -> None:
    console.print(f"serving on [bold]{platform.base_url}[/bold]; Ctrl-C to stop")
    await platform.serving


async def _demo(settings: Settings, options: DemoOptions, console: Console) -> int:
    await upgrade_async(settings.database_url)
    db = Database(settings.database_url)
    rng = random.Random(settings.demo_seed)
    mqtt = settings.mqtt_url is not None
    async with db.session() as session:
        fresh = await auth_repo.user_by_username(session, "admin") is None
    try:
        if not fresh:
            console.print(
                "[yellow]the demo database is already seeded; delete var/tamga.db to start over[/yellow]"
            )
            if options.serve_after:
                async with running_platform(settings, db, options.port) as platform:
                    await _serve_until_stopped(platform, console)
            return 0
        # 1. sample data (each pillar's seeding is one step here)
        async with db.session() as session:
            world = await seed(session, rng, mqtt=mqtt)
            await commit(session)
        async with db.session() as session:
            cleared = await clearance_demo.seed_demo(
                session, aeo_operator_id=world.operators["ru"], other_operator_id=world.operators["by"]
            )
            await commit(session)
        console.print(_declarations_table(cleared))
        async with db.session() as session:
            traded = await tax_demo.seed_demo(session, settings)
            await commit(session)
        console.print(
            f"Mutual trade: {traded.claims} 0 % claims and {traded.applications} confirmed import applications"
            + "".join(f", {n} refused ({why})" for why, n in traded.refused.items())
            + "; the tax gap: GET /api/v1/tax/gap as tax.ru or tax.by"
        )
        # 2. the platform
        async with running_platform(settings, db, options.port, speed_up=options.speed_up) as platform:
            async with httpx.AsyncClient(base_url=platform.base_url, timeout=30) as http:
                client = DemoClient(http)
                # 3. the transit procedure from lodging to discharge
                console.print(await run_procedure(client, world, rng, options.movements))
                # 4. movements on the corridors, released, and 5. their trucks
                trucks = await release_for_trucks(client, world, db, rng, options.trucks, mqtt=mqtt)
                results, side = await simulate(
                    platform,
                    client,
                    db,
                    trucks,
                    speed_up=options.speed_up,
                    hours=options.sim_hours,
                    console=console,
                )
            console.print()
            console.print(_summary(results))
            console.print(_alarm_table(side))
            console.print(
                f"API and docs: [bold]{platform.base_url}/docs[/bold]  (users: admin, declarant.ru, "
                f"declarant.by, carrier, officer.brest ...; password [bold]{DEMO_PASSWORD}[/bold]); "
                f"devices: EGTS {settings.gateway_host}:{settings.egts_port}, "
                f"Wialon IPS {settings.gateway_host}:{settings.wialon_port}"
            )
            # 6. serve until Ctrl-C
            if options.serve_after:
                await _serve_until_stopped(platform, console)
            failed = [r for r in results if r.error]
            return 1 if failed else 0
    finally:
        await db.dispose()


def run_demo(
    settings: Settings,
    *,
    port: int | None,
    movements: int,
    serve_after: bool,
    console: Console,
    trucks: int = 6,
    speed_up: float = 600.0,
    sim_hours: float | None = None,
) -> int:
    """Run the demo; give the exit code."""
    options = DemoOptions(
        port=port or settings.http_port,
        movements=movements,
        trucks=trucks,
        speed_up=speed_up,
        sim_hours=sim_hours,
        serve_after=serve_after,
    )
    return asyncio.run(_demo(settings, options, console))
