"""Sample goods declarations for `make demo`, made through the real use cases (nothing is faked).

An AEO declarant of Russia, with money on its prepaid account, imports laptops at Noginsk (Moscow region):
green lane, released in the same request. A Belarusian declarant without history imports shampoo at Minsk:
the new-declarant profile sends it to the officer queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tamga.auth.domain import Principal, Role
from tamga.clearance import risk_service, schemas, service
from tamga.clearance.domain import ref_of
from tamga.rates.service import load_samples

MOSCOW_REGION = "10013010"  # Noginsk customs post
MINSK = "06611"


@dataclass
class DemoClearance:
    """What the clearance demo made: account ids and the declarations with their outcome."""

    accounts: dict[str, int] = field(default_factory=dict)
    declarations: list[tuple[str, str, str]] = field(default_factory=list)  # (ref, status, lane)


def _laptops() -> schemas.GoodsDeclarationCreate:
    return schemas.GoodsDeclarationCreate.model_validate(
        {
            "direction": "import",
            "office_code": MOSCOW_REGION,
            "consignor": {"name": "Shenzhen Export Co. Ltd", "country": "CN", "address": "Shenzhen"},
            "consignee": {"name": "OOO Smolensk Logistic Trade", "country": "RU"},
            "dispatch_country": "CN",
            "destination_country": "RU",
            "transport": {
                "mode": "road",
                "identity": "A123BC67",
                "nationality": "RU",
                "transit_countries": ["KZ"],
            },
            "costs": [
                {"kind": "transport", "amount": "2500.00", "currency": "USD"},
                {"kind": "insurance", "amount": "150.00", "currency": "EUR"},
            ],
            "items": [
                {
                    "hs_code": "8471300000",
                    "description": "Portable computers, 14 inch",
                    "origin": "CN",
                    "quantity": "100",
                    "unit": "pcs",
                    "net_mass_kg": "200.000",
                    "gross_mass_kg": "260.000",
                    "price": "60000.00",
                    "currency": "USD",
                }
            ],
        }
    )


def _shampoo() -> schemas.GoodsDeclarationCreate:
    return schemas.GoodsDeclarationCreate.model_validate(
        {
            "direction": "import",
            "office_code": MINSK,
            "consignor": {"name": "Kosmetik Handel GmbH", "country": "DE", "address": "Hamburg"},
            "consignee": {"name": "OAO Minsk Import", "country": "BY"},
            "dispatch_country": "DE",
            "destination_country": "BY",
            "transport": {
                "mode": "road",
                "identity": "AB1234-7",
                "nationality": "BY",
                "transit_countries": ["PL"],
            },
            "costs": [{"kind": "transport", "amount": "900.00", "currency": "EUR"}],
            "items": [
                {
                    "hs_code": "3305100000",
                    "description": "Shampoo, 250 ml bottles",
                    "origin": "DE",
                    "net_mass_kg": "1500.000",
                    "gross_mass_kg": "1700.000",
                    "price": "9000.00",
                    "currency": "EUR",
                }
            ],
        }
    )


async def seed_demo(
    session: AsyncSession, *, aeo_operator_id: int, other_operator_id: int, actor: str = "system:demo"
) -> DemoClearance:
    """Deposit on both declarants' accounts, then lodge one AEO declaration (released) and one for the queue.

    `aeo_operator_id` is a Russian AEO, `other_operator_id` a Belarusian operator without AEO status.
    Loads the sample rates and the default risk profiles first (both idempotent). The caller commits.
    """
    await load_samples(session)
    await risk_service.seed_default_profiles(session, actor)
    admin = Principal(subject=actor, name="demo", role=Role.ADMINISTRATOR)
    out = DemoClearance()
    for key, operator_id, country, amount in (
        ("ru", aeo_operator_id, "RU", Decimal("3000000.00")),
        ("by", other_operator_id, "BY", Decimal("150000.00")),
    ):
        account = await service.open_account(
            session, admin, schemas.AccountCreate(operator_id=operator_id, country=country)
        )
        await service.deposit(
            session,
            admin,
            account.id,
            schemas.DepositCreate(amount=amount, reference=f"DEMO-{key.upper()}-1"),
        )
        out.accounts[key] = account.id
    for operator_id, body in ((aeo_operator_id, _laptops()), (other_operator_id, _shampoo())):
        declarant = Principal(
            subject=actor, name="demo declarant", role=Role.DECLARANT, operator_id=operator_id
        )
        decl = await service.lodge(session, declarant, body)
        out.declarations.append((ref_of(decl.registration_number), decl.status, decl.lane))
    return out
