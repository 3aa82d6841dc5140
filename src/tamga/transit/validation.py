"""Checking a transit declaration against the reference data: every field at fault, with its reason. No I/O."""

from __future__ import annotations

from typing import Any

from tamga.kit.errors import FieldError
from tamga.parties.domain import UNION_STATES, normalise_plate, tax_id_errors
from tamga.reference.catalog import Catalog
from tamga.transit.schemas import PartyIn, PlaceIn, TransitDeclarationCreate


def _office_errors(catalog: Catalog, code: str, field: str, role: str) -> list[FieldError]:
    office = catalog.office(code)
    if office is None:
        return [FieldError(field, f"no customs office {code}")]
    if role not in office.roles:
        return [FieldError(field, f"office {code} ({office.name_en}) does not act as office of {role}")]
    return []


def _party_errors(catalog: Catalog, party: PartyIn, field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if catalog.country(party.country) is None:
        errors.append(FieldError(f"{field}.country", f"no country {party.country}"))
    if party.country in UNION_STATES:
        if not party.identifier:
            errors.append(
                FieldError(f"{field}.identifier", f"a party in {party.country} needs its INN or UNP")
            )
        else:
            errors.extend(tax_id_errors(party.country, party.identifier, f"{field}.identifier"))
    return errors


def declaration_errors(catalog: Catalog, decl: TransitDeclarationCreate) -> list[FieldError]:
    """Give every fault of a declaration that the reference data can tell; empty when it stands."""
    errors: list[FieldError] = []
    errors += _party_errors(catalog, decl.consignor, "body.consignor")
    errors += _party_errors(catalog, decl.consignee, "body.consignee")
    errors += _office_errors(catalog, decl.departure_office, "body.departure_office", "departure")
    errors += _office_errors(catalog, decl.destination_office, "body.destination_office", "destination")
    if decl.departure_office == decl.destination_office:
        errors.append(FieldError("body.destination_office", "must differ from the office of departure"))
    destination = catalog.office(decl.destination_office)
    if destination is not None and destination.country not in UNION_STATES:
        errors.append(FieldError("body.destination_office", "must be in Russia or Belarus"))
    for i, code in enumerate(decl.transit_offices):
        errors += _office_errors(catalog, code, f"body.transit_offices[{i}]", "transit")
    if len(set(decl.transit_offices)) != len(decl.transit_offices):
        errors.append(FieldError("body.transit_offices", "an office is listed twice"))

    errors += _itinerary_errors(catalog, decl)

    plates = [(v.country, normalise_plate(v.plate)) for v in decl.vehicles]
    for i, vehicle in enumerate(decl.vehicles):
        if catalog.country(vehicle.country) is None:
            errors.append(FieldError(f"body.vehicles[{i}].country", f"no country {vehicle.country}"))
    if len(set(plates)) != len(plates):
        errors.append(FieldError("body.vehicles", "a vehicle is listed twice"))
    if len(set(decl.seals)) != len(decl.seals):
        errors.append(FieldError("body.seals", "a seal is listed twice"))

    for i, item in enumerate(decl.items):
        path = f"body.items[{i}]"
        if not catalog.is_known_hs_code(item.hs_code):
            errors.append(
                FieldError(f"{path}.hs_code", f"{item.hs_code} is not in the HS 2022 / EAEU nomenclature")
            )
        if catalog.country(item.origin) is None:
            errors.append(FieldError(f"{path}.origin", f"no country {item.origin}"))
        if catalog.currency(item.currency) is None:
            errors.append(FieldError(f"{path}.currency", f"no currency {item.currency}"))
        if item.gross_mass_kg <= 0:
            errors.append(FieldError(f"{path}.gross_mass_kg", "must be more than zero"))
        if item.net_mass_kg > item.gross_mass_kg:
            errors.append(FieldError(f"{path}.net_mass_kg", "cannot exceed the gross mass"))
    return errors


def _itinerary_errors(catalog: Catalog, decl: TransitDeclarationCreate) -> list[FieldError]:
    if not decl.itinerary:
        return []
    errors: list[FieldError] = []
    for i, place in enumerate(decl.itinerary):
        if place.office_code is not None and catalog.office(place.office_code) is None:
            errors.append(
                FieldError(f"body.itinerary[{i}].office_code", f"no customs office {place.office_code}")
            )
    if decl.itinerary[0].office_code != decl.departure_office:
        errors.append(FieldError("body.itinerary[0]", "the itinerary starts at the office of departure"))
    if decl.itinerary[-1].office_code != decl.destination_office:
        errors.append(
            FieldError(
                f"body.itinerary[{len(decl.itinerary) - 1}]",
                "the itinerary ends at the office of destination",
            )
        )
    listed = {p.office_code for p in decl.itinerary}
    for i, code in enumerate(decl.transit_offices):
        if code not in listed:
            errors.append(FieldError(f"body.transit_offices[{i}]", f"office {code} is not on the itinerary"))
    return errors


def resolve_itinerary(catalog: Catalog, decl: TransitDeclarationCreate) -> list[dict[str, Any]]:
    """Give the itinerary as places with names and coordinates (offices resolved from the catalog)."""
    places = decl.itinerary or [
        PlaceIn(office_code=code)
        for code in [decl.departure_office, *decl.transit_offices, decl.destination_office]
    ]
    resolved: list[dict[str, Any]] = []
    for place in places:
        if place.office_code is not None:
            office = catalog.office(place.office_code)
            if office is None:
                raise LookupError(place.office_code)
            resolved.append(
                {"office_code": office.code, "name": office.name_en, "lat": office.lat, "lon": office.lon}
            )
        else:
            point = {"office_code": None, "name": place.name, "lat": place.lat, "lon": place.lon}
            resolved.append({**point, "rest_area": True} if place.rest_area else point)
    return resolved
