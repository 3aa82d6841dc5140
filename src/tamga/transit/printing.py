"""Gathering what the transit accompanying document prints about a movement."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tamga.kit.clock import utcnow
from tamga.kit.errors import Conflict
from tamga.models import Movement, Operator
from tamga.parties import repository as parties_repo
from tamga.reference.catalog import load_catalog
from tamga.transit.document import (
    DocumentItem,
    DocumentOffice,
    DocumentParty,
    TransitDocumentData,
)


def _identifier(country: str, tax_id: str | None) -> str:
    if not tax_id:
        return ""
    return {"RU": "INN", "BY": "UNP"}.get(country, "ID") + " " + tax_id


def _operator_party(op: Operator) -> DocumentParty:
    return DocumentParty(op.name, _identifier(op.country, op.tax_id), op.country)


def _declared_party(p: dict[str, Any]) -> DocumentParty:
    return DocumentParty(
        str(p["name"]), _identifier(str(p["country"]), p.get("identifier")), str(p["country"])
    )


def _office(code: str) -> DocumentOffice:
    office = load_catalog().office(code)
    if office is None:
        return DocumentOffice(code, code, "")
    return DocumentOffice(office.code, f"{office.name_en} / {office.name_ru}", office.country)


async def document_data(session: AsyncSession, movement: Movement) -> TransitDocumentData:
    """Give the document's content for a movement that has an MRN (items and events loaded)."""
    if movement.mrn is None or movement.registration_number is None:
        raise Conflict("the transit accompanying document exists once the declaration is accepted")
    holder = await parties_repo.operator(session, movement.holder_id)
    carrier = await parties_repo.operator(session, movement.carrier_id)
    assert holder is not None
    return TransitDocumentData(
        mrn=movement.mrn,
        registration_number=movement.registration_number,
        status=movement.status,
        holder=_operator_party(holder),
        consignor=_declared_party(movement.consignor),
        consignee=_declared_party(movement.consignee),
        carrier=_operator_party(carrier) if carrier else None,
        departure=_office(movement.departure_office),
        destination=_office(movement.destination_office),
        transit_offices=tuple(_office(c) for c in movement.transit_offices),
        itinerary=tuple(str(p["name"]) for p in movement.itinerary),
        route_length_km=movement.route_length_km,
        vehicles=tuple(f"{v['plate']} ({v['country']})" for v in movement.vehicles if v["active"]),
        seals=tuple(f"{s['serial']} ({s['status']})" for s in movement.seals),
        guarantee_reference=movement.guarantee_grn,
        amount_at_stake=movement.amount_at_stake,
        amount_currency=movement.amount_currency,
        accepted_at=movement.accepted_at,
        released_at=movement.released_at,
        time_limit=movement.time_limit,
        items=tuple(
            DocumentItem(
                i.number,
                i.hs_code,
                i.description,
                i.packages,
                i.gross_mass_kg,
                i.net_mass_kg,
                i.value,
                i.currency,
                i.origin,
            )
            for i in movement.items
        ),
        generated_at=utcnow(),
    )
