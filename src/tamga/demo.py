"""`tamga demo`: sample businesses of both states, officers on the main corridors, movements run over HTTP."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.app import create_app
from tamga.auth import repository as auth_repo
from tamga.auth import service as auth_service
from tamga.auth.domain import Principal, Role
from tamga.config import Settings
from tamga.kit.db import Database, commit
from tamga.kit.migrate import upgrade_async
from tamga.parties import schemas as party_schemas
from tamga.parties import service as parties
from tamga.parties import synthetic
from tamga.parties.domain import AeoStatus, SealOperator, SealProtocol
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


async def seed(session: AsyncSession, rng: random.Random) -> DemoWorld:
    """Create the demo's operators, users, vehicles, seals and guarantees (once)."""
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
                protocol=SealProtocol.EGTS if n % 3 else SealProtocol.WIALON_IPS,
                device_id=f"86{n:013d}",
                device_secret=f"secret-{n:04d}",
                carrier_id=world.carrier_id,
            ),
        )
        world.seals.append(serial)
    for key, currency, amount in (("ru", "RUB", Decimal("50000000")), ("by", "BYN", Decimal("2000000"))):
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


def declaration(world: DemoWorld, n: int, rng: random.Random, seal: str) -> dict[str, Any]:
    """Give a sample transit declaration (JSON) for route n."""
    departure, borders, destination, holder = ROUTES[n % len(ROUTES)]
    grn, code = world.guarantees[holder]
    items = []
    for i, (hs, desc, kg, price, origin) in enumerate(rng.sample(GOODS, k=3), start=1):
        qty = rng.randint(20, 400)
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
    return {
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


async def _demo(settings: Settings, port: int, movements: int, serve_after: bool, console: Console) -> int:
    await upgrade_async(settings.database_url)
    db = Database(settings.database_url)
    rng = random.Random(settings.demo_seed)
    async with db.session() as session:
        fresh = await auth_repo.user_by_username(session, "admin") is None
    if not fresh:
        console.print(
            "[yellow]the demo database is already seeded; delete var/tamga.db to start over[/yellow]"
        )
        await db.dispose()
        if serve_after:
            await uvicorn.Server(
                uvicorn.Config(create_app(settings), host=settings.http_host, port=port, log_level="warning")
            ).serve()
        return 0
    async with db.session() as session:
        world = await seed(session, rng)
        await commit(session)

    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, db), host=settings.http_host, port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
        await asyncio.sleep(0.05)
    base = f"http://{settings.http_host}:{port}"
    table = Table(
        "movement", "route", "status", "stake", title="sample movements, lodged to discharged over HTTP"
    )
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        client = DemoClient(http)
        for n in range(movements):
            final = await run_movement(client, world, n, rng, world.seals[n % len(world.seals)])
            route = f"{final['departure_office']} -> {final['destination_office']}"
            table.add_row(
                final["mrn"], route, final["status"], f"{final['amount_at_stake']} {final['amount_currency']}"
            )
    console.print(table)
    console.print(
        f"API: [bold]{base}/docs[/bold]  (users: admin, declarant.ru, declarant.by, carrier, "
        f"officer.brest ...; password [bold]{DEMO_PASSWORD}[/bold])"
    )
    if serve_after:
        await serving
    else:
        server.should_exit = True
        await serving
    await db.dispose()
    return 0


def run_demo(
    settings: Settings, *, port: int | None, movements: int, serve_after: bool, console: Console
) -> int:
    """Run the demo; give the exit code."""
    return asyncio.run(_demo(settings, port or settings.http_port, movements, serve_after, console))
