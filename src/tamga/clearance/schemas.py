"""Request and response bodies of goods declarations, the officer queue and prepaid accounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tamga.clearance.domain import MAX_ITEMS, Basis, CostKind, Direction, Status
from tamga.clearance.screening import Lane
from tamga.kit.schemas import Iso2, Iso4217, OfficeCode, Text

Mass = Annotated[Decimal, Field(gt=0, max_digits=13, decimal_places=3, description="kilograms")]
Price = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


def _ten_digits(code: str) -> str:
    if not (len(code) == 10 and code.isascii() and code.isdigit()):
        raise ValueError("an EAEU CN FEA code has exactly 10 digits (the tariff line), e.g. 8471300000")
    return code


HsCode10 = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_ten_digits)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyIn(Strict):
    """A consignor or consignee (a foreign party is usually not registered in tamga)."""

    name: Text = Field(min_length=1, max_length=300)
    country: Iso2
    identifier: Text | None = Field(default=None, max_length=40)
    address: Text = Field(default="", max_length=500)


class TransportMode(StrEnum):
    """Modes of transport at the border (UN/ECE Recommendation 19)."""

    SEA = "sea"
    RAIL = "rail"
    ROAD = "road"
    AIR = "air"
    POST = "post"
    FIXED = "fixed"  # pipelines, power lines


class TransportIn(Strict):
    mode: TransportMode
    identity: Text = Field(min_length=1, max_length=60, description="plate, wagon, flight or vessel")
    nationality: Iso2 | None = None
    transit_countries: list[Iso2] = Field(default_factory=list, max_length=20)


class CostIn(Strict):
    """A cost that adjusts the invoice price to the transaction value."""

    kind: CostKind
    amount: Price
    currency: Iso4217
    basis: Basis | None = Field(
        default=None,
        description="how it is shared among items; default: gross mass for transport and loading, "
        "value for insurance and services",
    )


class ItemIn(Strict):
    hs_code: HsCode10
    description: Text = Field(min_length=1, max_length=500)
    origin: Iso2
    preference: str | None = Field(
        default=None, pattern=r"^[A-Z0-9_]{1,20}$", description="tariff preference"
    )
    quantity: Decimal | None = Field(
        default=None, ge=0, max_digits=13, decimal_places=3, description="in the supplementary unit"
    )
    unit: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{1,10}$",
        description="supplementary unit: l, l_alc, pcs, cm3, 1000pcs...",
    )
    net_mass_kg: Mass
    gross_mass_kg: Mass
    price: Price = Field(description="the price actually paid or payable, in `currency`")
    currency: Iso4217
    vat_reduced: bool = Field(default=False, description="claims the reduced VAT rate for these goods")

    @model_validator(mode="after")
    def _masses(self) -> ItemIn:
        if self.net_mass_kg > self.gross_mass_kg:
            raise ValueError("the net mass exceeds the gross mass")
        if (self.quantity is None) != (self.unit is None):
            raise ValueError("a quantity and its unit go together")
        return self


class GoodsDeclarationCreate(Strict):
    direction: Direction
    declarant_id: int | None = Field(default=None, ge=1, le=2**62, description="administrators only")
    office_code: OfficeCode
    consignor: PartyIn
    consignee: PartyIn
    dispatch_country: Iso2
    destination_country: Iso2
    transport: TransportIn
    transit_mrn: str | None = Field(default=None, pattern=r"^[0-9]{2}[A-Z]{2}[0-9A-Z]{14}$")
    costs: list[CostIn] = Field(default_factory=list, max_length=50)
    items: list[ItemIn] = Field(min_length=1, max_length=MAX_ITEMS)


class ResultKind(StrEnum):
    DOCUMENTARY = "documentary"
    INSPECTION = "inspection"


class Outcome(StrEnum):
    COMPLIANT = "compliant"
    IRREGULARITIES = "irregularities"


class Results(Strict):
    kind: ResultKind
    outcome: Outcome
    note: Text = Field(default="", max_length=4000)


class Refusal(Strict):
    reason: Text = Field(min_length=1, max_length=4000)


class Adjustment(BaseModel):
    index: int
    kind: CostKind
    amount: Decimal
    currency: str
    rate: Decimal
    national: Decimal
    basis: Basis
    why: str = Field(description="why the adjustment is shared among the items on this basis")
    deducted: bool


class Share(BaseModel):
    cost_index: int
    kind: CostKind
    amount: Decimal


class Item(BaseModel):
    number: int
    hs_code: str
    description: str
    origin: str
    preference: str | None
    quantity: Decimal | None
    unit: str | None
    net_mass_kg: Decimal
    gross_mass_kg: Decimal
    price: Decimal
    currency: str
    vat_reduced: bool
    rate: Decimal
    price_national: Decimal
    shares: list[Share]
    customs_value: Decimal
    duty: Decimal
    excise: Decimal
    vat: Decimal
    charges: list[dict[str, Any]]


class Hit(BaseModel):
    profile_code: str
    profile_version: int
    lane: Lane
    measure: str
    reason: str
    item_number: int | None


class Risk(BaseModel):
    lane: Lane
    hits: list[Hit]
    random_selected: bool
    random_lane: Lane | None
    profile_set_version: str


class HistoryEntry(BaseModel):
    at: dt.datetime
    action: str
    actor: str
    status: Status
    note: str | None = None


class Declaration(BaseModel):
    id: int
    ref: str
    registration_number: str
    direction: Direction
    status: Status
    lane: Lane
    declarant_id: int
    declarant_aeo: bool
    country: str
    office_code: str
    consignor: dict[str, Any]
    consignee: dict[str, Any]
    dispatch_country: str
    destination_country: str
    transport: dict[str, Any]
    transit_mrn: str | None
    currency: str
    customs_value: Decimal
    duty: Decimal
    excise: Decimal
    vat: Decimal
    fee: Decimal
    total_payable: Decimal
    adjustments: list[Adjustment]
    fee_charge: dict[str, Any]
    risk: Risk
    post_clearance_audit: bool
    assigned_to: str | None
    results: list[dict[str, Any]]
    refusal_reason: str | None
    hold_reason: str | None
    registered_at: dt.datetime
    released_at: dt.datetime | None
    refused_at: dt.datetime | None
    history: list[HistoryEntry]
    items: list[Item] | None = None


class DeclarationSummary(BaseModel):
    id: int
    ref: str
    registration_number: str
    direction: Direction
    status: Status
    lane: Lane
    declarant_id: int
    office_code: str
    total_payable: Decimal
    currency: str
    hits: list[str] = Field(description="codes of the risk profiles that matched")
    assigned_to: str | None
    hold_reason: str | None
    registered_at: dt.datetime


class AccountCreate(Strict):
    operator_id: int | None = Field(
        default=None, ge=1, le=2**62, description="default: the caller's operator"
    )
    country: str = Field(pattern=r"^(RU|BY)$", description="the state whose customs keeps the account")


class Account(BaseModel):
    id: int
    operator_id: int
    country: str
    currency: str
    balance: Decimal
    created_at: dt.datetime


class DepositCreate(Strict):
    amount: Price
    reference: Text = Field(min_length=1, max_length=100, description="the payment order's number")


class Entry(BaseModel):
    id: int
    at: dt.datetime
    kind: str
    amount: Decimal
    balance_after: Decimal
    declaration_ref: str | None
    reference: str | None
    actor: str


class Statement(BaseModel):
    account: Account
    entries: list[Entry]
    next_cursor: str | None = None
