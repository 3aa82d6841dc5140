"""Builders for clearance tests: rates and risk profiles in the database, declarants, accounts, declarations."""

from __future__ import annotations

import random
from typing import Any

import httpx
from sqlalchemy import func, select
from tests.conftest import Backend
from tests.support.builders import admin, ok, tag, user

from tamga.auth.domain import Principal, Role
from tamga.clearance import risk_repository, risk_schemas, risk_service
from tamga.kit.db import commit
from tamga.models import AuditRecord, Counter
from tamga.models.clearance import AccountEntry, ClearanceAccount, GoodsDeclaration, GoodsDeclarationItem
from tamga.parties import synthetic
from tamga.rates.service import load_samples

MOSCOW = "10013010"  # Noginsk customs post, Moscow region: AEO declarations (green lane)
SMOLENSK = "10113110"  # Smolensk customs post: the red lane profile of these tests sends everything here to the queue
MINSK = "06611"

# Portable computers (HS 8471 30 000 0: 0 % duty in the EAEU Common Customs Tariff), at a unit value in line
# with the statistical reference so that no valuation profile fires.
LAPTOPS = "8471300000"

ADMIN = Principal(subject="test:clearance", name="clearance tests", role=Role.ADMINISTRATOR)
TABLES = (GoodsDeclaration, GoodsDeclarationItem, ClearanceAccount, AccountEntry, Counter, AuditRecord)


async def prepare(backend: Backend) -> None:
    """Load the sample rates, the default risk profiles and this suite's red profile (idempotent)."""
    async with backend.db.session() as session:
        await load_samples(session)
        await risk_service.seed_default_profiles(session, ADMIN.subject)
        code = "RP-TEST-SMOLENSK-RED"
        if await risk_repository.profile_by_code(session, code) is None:
            await risk_service.create_profile(
                session,
                ADMIN,
                risk_schemas.RiskProfileCreate(
                    code=code,
                    name="Every non-AEO declaration at Smolensk (clearance tests)",
                    lane="red",
                    measure="Physical inspection of the goods.",
                    conditions=[
                        {"field": "office", "op": "in", "value": [SMOLENSK]},
                        {"field": "declarant_aeo", "op": "eq", "value": False},
                    ],
                ),
            )
        await commit(session)


async def counts(backend: Backend) -> dict[str, int]:
    """Give the number of rows of every table lodging writes to."""
    async with backend.db.session() as session:
        return {
            model.__tablename__: int(
                (await session.execute(select(func.count()).select_from(model))).scalar_one()
            )
            for model in TABLES
        }


async def declarant(
    http: httpx.AsyncClient, country: str = "RU", *, aeo: bool = False
) -> tuple[int, dict[str, str]]:
    """Create an operator (an AEO if asked) and a declarant user for it; give its id and headers."""
    rng = random.Random()
    if country == "RU":
        inn = synthetic.inn_legal(rng, 67)
        body: dict[str, Any] = {
            "country": "RU",
            "name": f"OOO Importer {tag()}",
            "tax_id": inn,
            "kpp": synthetic.kpp(inn),
            "ogrn": synthetic.ogrn(rng, 67),
            "region": "RU-SMO",
        }
    else:
        body = {
            "country": "BY",
            "name": f"OAO Importer {tag()}",
            "tax_id": synthetic.unp(rng, 1),
            "region": "BY-HM",
        }
    if aeo:
        body |= {"aeo_status": "type1", "aeo_certificate": f"{country}/AEO/{tag()}"}
    op = ok(await http.post("/api/v1/operators", json=body, headers=await admin(http)), 201)
    return int(op["id"]), await user(http, "declarant", operator_id=op["id"])


async def officer(http: httpx.AsyncClient, office: str, country: str = "RU") -> dict[str, str]:
    return await user(http, "customs_officer", country=country, office_code=office)


async def funded_account(
    http: httpx.AsyncClient,
    operator_id: int,
    amount: str,
    officer_headers: dict[str, str],
    country: str = "RU",
) -> int:
    """Open an account for the operator and deposit `amount` (by an officer); give its id."""
    account = ok(
        await http.post(
            "/api/v1/accounts", json={"operator_id": operator_id, "country": country}, headers=officer_headers
        ),
        201,
    )
    if amount != "0":
        ok(
            await http.post(
                f"/api/v1/accounts/{account['id']}/deposits",
                json={"amount": amount, "reference": f"PP-{tag()}"},
                headers=officer_headers,
            ),
            201,
        )
    return int(account["id"])


def item(**overrides: Any) -> dict[str, Any]:
    base = {
        "hs_code": LAPTOPS,
        "description": "Portable computers, 14 inch",
        "origin": "CN",
        "quantity": "100",
        "unit": "pcs",
        "net_mass_kg": "200.000",
        "gross_mass_kg": "260.000",
        "price": "60000.00",
        "currency": "USD",
    }
    return {**base, **overrides}


def declaration(office: str = MOSCOW, **overrides: Any) -> dict[str, Any]:
    """An import declaration of laptops from China by road through Kazakhstan, CPT border."""
    body: dict[str, Any] = {
        "direction": "import",
        "office_code": office,
        "consignor": {"name": "Shenzhen Export Co. Ltd", "country": "CN", "address": "Shenzhen"},
        "consignee": {"name": "OOO Importer", "country": "RU", "identifier": "7707083893"},
        "dispatch_country": "CN",
        "destination_country": "RU",
        "transport": {
            "mode": "road",
            "identity": "A123BC77",
            "nationality": "RU",
            "transit_countries": ["KZ"],
        },
        "costs": [
            {"kind": "transport", "amount": "2500.00", "currency": "USD"},
            {"kind": "insurance", "amount": "150.00", "currency": "EUR"},
        ],
        "items": [item()],
    }
    body.update(overrides)
    return body
