"""Builders of screening facts for the risk tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tamga.clearance.screening import DeclarantHistory, ScreenedItem, ScreeningFacts


def item(
    number: int = 1,
    hs_code: str = "8517130000",
    origin: str = "CN",
    mass: str = "10",
    value_usd: str = "8000",
    preference: str | None = None,
) -> ScreenedItem:
    usd = Decimal(value_usd)
    return ScreenedItem(
        number=number,
        hs_code=hs_code,
        origin=origin,
        net_mass_kg=Decimal(mass),
        customs_value=usd * Decimal("80"),
        currency="RUB",
        customs_value_usd=usd,
        preference=preference,
    )


def facts(
    *items: ScreenedItem,
    ref: str | None = None,
    aeo: bool = True,
    declarations: int = 50,
    refusals: int = 0,
    registered_at: datetime | None = None,
    **overrides: Any,
) -> ScreeningFacts:
    values: dict[str, Any] = {
        "declaration_ref": ref or f"TEST/{uuid.uuid4().hex[:12]}",
        "direction": "import",
        "state": "RU",
        "office": "10013010",
        "declarant_tax_id": "7707083893",
        "declarant_aeo": aeo,
        "history": DeclarantHistory(declarations, refusals, datetime(2020, 1, 1, tzinfo=UTC)),
        "route_countries": ("CN", "KZ"),
        "transit_mrn": None,
        "transit_alarms": (),
        "registered_at": registered_at or datetime.now(UTC),
        "items": items or (item(),),
    }
    values.update(overrides)
    return ScreeningFacts(**values)
