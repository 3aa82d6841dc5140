"""Request and response bodies of the transit procedure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tamga.kit.schemas import Iso2, Iso4217, OfficeCode, Text, UtcDateTime
from tamga.transit.domain import MAX_ITEMS, Status

Mass = Annotated[Decimal, Field(ge=0, max_digits=13, decimal_places=3, description="kilograms")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GuaranteeKind(StrEnum):
    COMPREHENSIVE = "comprehensive"
    INDIVIDUAL = "individual"
    CASH = "cash"
    WAIVER = "waiver"


class GuaranteeCreate(Strict):
    holder_id: int = Field(ge=1, le=2**62)
    kind: GuaranteeKind
    currency: Iso4217
    reference_amount: Amount
    valid_from: dt.date
    valid_until: dt.date | None = None
    access_code: str = Field(min_length=4, max_length=20, pattern=r"^[A-Za-z0-9]+$")


class Guarantee(BaseModel):
    grn: str
    kind: GuaranteeKind
    holder_id: int
    currency: str
    reference_amount: Decimal
    reserved_amount: Decimal
    recovered_amount: Decimal
    balance: Decimal
    valid_from: dt.date
    valid_until: dt.date | None
    status: str


class PartyIn(Strict):
    """A consignor or consignee: registered in tamga or not (a foreign consignor usually is not)."""

    name: Text = Field(min_length=1, max_length=300)
    country: Iso2
    identifier: Text | None = Field(
        default=None, max_length=40, description="INN (RU) or UNP (BY), checked; other states free text"
    )
    address: Text = Field(default="", max_length=500)


class PlaceIn(Strict):
    """A place of the itinerary: a customs office, or a named point with its coordinates."""

    office_code: OfficeCode | None = None
    name: Text | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    rest_area: bool = Field(
        default=False,
        description="a declared rest area: stopping there is authorised (customs offices always are)",
    )

    @model_validator(mode="after")
    def _office_or_point(self) -> PlaceIn:
        if self.office_code is None and (self.lat is None or self.lon is None or not self.name):
            raise ValueError("a place is an office_code, or a name with lat and lon")
        return self


class VehicleIn(Strict):
    plate: str = Field(min_length=2, max_length=20, pattern=r"^[0-9A-Za-z -]+$")
    country: Iso2


class ItemIn(Strict):
    hs_code: str = Field(pattern=r"^[0-9]{6}([0-9]{4})?$", description="HS 6 digits or EAEU 10 digits")
    description: Text = Field(min_length=1, max_length=500)
    packages: int = Field(ge=0, le=10_000_000)
    package_kind: str = Field(default="PK", pattern=r"^[A-Z0-9]{2}$", description="UN/ECE Rec. 21 code")
    gross_mass_kg: Mass
    net_mass_kg: Mass
    value: Amount
    currency: Iso4217
    origin: Iso2


class GuaranteeRef(Strict):
    grn: str = Field(min_length=1, max_length=24, pattern=r"^[0-9A-Z]+$")
    access_code: str = Field(min_length=1, max_length=20)


class TransitDeclarationCreate(Strict):
    lrn: str = Field(
        min_length=1, max_length=22, pattern=r"^[0-9A-Za-z/_-]+$", description="the declarant's own reference"
    )
    holder_id: int | None = Field(default=None, ge=1, le=2**62, description="administrators only")
    carrier_id: int = Field(ge=1, le=2**62)
    consignor: PartyIn
    consignee: PartyIn
    departure_office: OfficeCode
    destination_office: OfficeCode
    transit_offices: list[OfficeCode] = Field(default_factory=list, max_length=9)
    itinerary: list[PlaceIn] = Field(
        default_factory=list,
        max_length=50,
        description="ordered places from departure to destination; empty: departure, transit offices, destination",
    )
    vehicles: list[VehicleIn] = Field(min_length=1, max_length=4)
    seals: list[Text] = Field(min_length=1, max_length=10)
    guarantee: GuaranteeRef
    items: list[ItemIn] = Field(min_length=1, max_length=MAX_ITEMS)


class Rejection(Strict):
    reasons: list[Annotated[Text, Field(min_length=1, max_length=500)]] = Field(min_length=1, max_length=50)


class Note(Strict):
    note: Text = Field(default="", max_length=2000)


class Release(Strict):
    time_limit: UtcDateTime | None = Field(
        default=None, description="default: from route length and speed norm"
    )


class Crossing(Strict):
    office_code: OfficeCode | None = Field(default=None, description="default: the officer's own office")
    at: UtcDateTime | None = None


class IncidentKind(StrEnum):
    ACCIDENT = "accident"
    TRANSHIPMENT = "transhipment"
    SEAL_BROKEN = "seal_broken"
    OTHER = "other"


class Incident(Strict):
    kind: IncidentKind
    description: Text = Field(min_length=1, max_length=2000)
    at: UtcDateTime | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    new_vehicle: VehicleIn | None = None
    seal_serial: Text | None = Field(default=None, max_length=40)
    new_seals: list[Text] = Field(default_factory=list, max_length=10)


class RemarkKind(StrEnum):
    MISSING = "missing"
    SURPLUS = "surplus"
    DAMAGED = "damaged"
    SEAL = "seal"
    OTHER = "other"


class Remark(Strict):
    item_number: int | None = Field(default=None, ge=1, le=MAX_ITEMS)
    kind: RemarkKind
    description: Text = Field(min_length=1, max_length=1000)


class UnloadingRemarks(Strict):
    discrepancies: bool
    remarks: list[Remark] = Field(default_factory=list, max_length=MAX_ITEMS)
    note: Text = Field(default="", max_length=2000)


class Discharge(Strict):
    resolution: Text = Field(default="", max_length=2000, description="required after discrepancies")


class Item(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    hs_code: str
    description: str
    packages: int
    package_kind: str
    gross_mass_kg: Decimal
    net_mass_kg: Decimal
    value: Decimal
    currency: str
    origin: str


class Event(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    kind: str
    office_code: str | None
    actor: str
    details: dict[str, Any]
    note: str | None


class RouteGeometry(BaseModel):
    type: str = "LineString"
    coordinates: list[tuple[float, float]]


class Movement(BaseModel):
    id: int
    lrn: str
    mrn: str | None
    registration_number: str | None
    status: Status
    holder_id: int
    carrier_id: int
    consignor: dict[str, Any]
    consignee: dict[str, Any]
    departure_office: str
    destination_office: str
    transit_offices: list[str]
    itinerary: list[dict[str, Any]]
    route: RouteGeometry
    route_length_km: Decimal
    guarantee_grn: str
    amount_at_stake: Decimal
    amount_currency: str
    reserved_amount: Decimal
    item_count: int
    total_packages: int
    total_gross_mass_kg: Decimal
    vehicles: list[VehicleIn]
    seals: list[dict[str, str]]
    rejection: list[dict[str, str]] | None
    time_limit: dt.datetime | None
    lodged_at: dt.datetime
    accepted_at: dt.datetime | None
    released_at: dt.datetime | None
    arrived_at: dt.datetime | None
    discharged_at: dt.datetime | None
    items: list[Item] | None = None
    events: list[Event] | None = None


class MovementSummary(BaseModel):
    id: int
    lrn: str
    mrn: str | None
    status: Status
    holder_id: int
    departure_office: str
    destination_office: str
    time_limit: dt.datetime | None
    lodged_at: dt.datetime
