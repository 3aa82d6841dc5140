"""Sample mutual trade for `make demo`, made through the real use cases (nothing is faked).

`taxation.synthetic.trade_rows` plans trades between companies with valid identifiers in every region of
both states, with its documented share of late, missing and mismatched documents. Here each planned claim
is registered by its exporter's authority on the exporter's behalf, and each planned confirmation becomes
an Annex 18 application filed for the importer, paid, and confirmed by the importer's tax authority; on
the demo's single node a confirmation applies at once and confirms the matching claim. The plan's dates
are moved as a whole so that its last document is a few days old. Planned duplicates are refused as
duplicates, as the service refuses any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tamga.auth.domain import Principal, Role
from tamga.config import Settings
from tamga.kit.errors import Conflict
from tamga.taxation import schemas, service, synthetic


@dataclass
class DemoTax:
    """What the taxation demo made."""

    claims: int = 0
    applications: int = 0
    refused: dict[str, int] = field(default_factory=dict)


def _party(row: dict[str, Any], side: str) -> dict[str, Any]:
    return {
        "country": row[f"{side}_country"],
        "tax_id": row[f"{side}_tax_id"],
        "name": f"{'OOO' if row[f'{side}_country'] == 'RU' else 'OOO (BY)'} {row[f'{side}_tax_id']}",
        "region": row[f"{side}_region"],
    }


def _moved(day: date, by: timedelta) -> str:
    return (day + by).isoformat()


async def seed_demo(
    session: AsyncSession, settings: Settings, *, trades: int = 40, seed: int = 7, today: date | None = None
) -> DemoTax:
    """Register the planned claims, then file, pay and confirm the planned confirmations. The caller commits."""
    trade = synthetic.trade_rows(trades, seed=seed)
    today = today or service.local_today()
    last = max(
        max(r["registered_date"] for r in trade.confirmations), max(r["shipment_date"] for r in trade.claims)
    )
    shift = (today - timedelta(days=5)) - last
    admin = Principal(subject="system:demo", name="demo", role=Role.ADMINISTRATOR)
    out = DemoTax()
    for row in trade.claims:
        body = schemas.ClaimIn.model_validate(
            {
                "exporter": _party(row, "seller"),
                "buyer": _party(row, "buyer"),
                "invoices": [
                    {
                        "number": row["invoice_number"],
                        "date": _moved(row["invoice_date"], shift),
                        "amount": str(row["amount"]),
                        "currency": row["currency"],
                        "hs_code": row["hs_code"],
                    }
                ],
                "shipped_on": _moved(row["shipment_date"], shift),
            }
        )
        try:
            async with session.begin_nested():
                await service.register_claim(session, admin, settings, body)
            out.claims += 1
        except Conflict:
            out.refused["duplicate claim"] = out.refused.get("duplicate claim", 0) + 1
    for row in trade.confirmations:
        registered = _moved(row["registered_date"], shift)
        application = schemas.ApplicationIn.model_validate(
            {
                "importer": _party(row, "buyer"),
                "seller": _party(row, "seller"),
                "contract": {
                    "number": f"C-{row['invoice_number']}",
                    "date": _moved(row["invoice_date"], shift),
                },
                "invoices": [{"number": row["invoice_number"], "date": _moved(row["invoice_date"], shift)}],
                "transport_documents": [
                    {"number": f"CMR-{row['id']:06d}", "date": _moved(row["shipment_date"], shift)}
                ],
                "lines": [
                    {
                        "hs_code": row["hs_code"],
                        "description": "goods",
                        "quantity": "1",
                        "unit": "PCE",
                        "value": str(row["amount"]),
                        "currency": row["currency"],
                    }
                ],
                "registered_on": registered,
            }
        )
        async with session.begin_nested():
            a = await service.file_application(session, admin, settings, application)
            payment = schemas.PaymentIn(
                amount=a.total_due, paid_on=date.fromisoformat(registered), reference=f"PP-{a.number}"
            )
            await service.record_payment(session, admin, a.number, payment)
            officer = Principal(
                subject="system:demo", name="demo tax officer", role=Role.TAX_OFFICER, country=a.state
            )
            await service.confirm(session, officer, settings, a.number)
        out.applications += 1
    return out
