"""Request and response bodies of the taxation of mutual trade."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tamga.kit.schemas import Iso4217, Text
from tamga.taxation.domain import ApplicationStatus, ClaimStatus

Amount = Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=2)]
NonNegativeAmount = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
DocNumber = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[0-9A-Za-z\u0400-\u04FF/._ -]+$")]
State = Annotated[str, Field(pattern=r"^(RU|BY)$", description="RU or BY")]
TaxId = Annotated[str, Field(min_length=9, max_length=12, pattern=r"^[0-9A-Z]+$", description="INN or UNP")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyIn(Strict):
    """A party named by its state and tax identifier: INN in Russia, UNP in Belarus (checked)."""

    country: State
    tax_id: TaxId
    name: Text = Field(min_length=1, max_length=300)
    region: str | None = Field(
        default=None,
        pattern=r"^(RU|BY)-[A-Z0-9]{1,3}$",
        description="ISO 3166-2 region; a registered business's own is taken from its record",
    )


class ContractIn(Strict):
    number: DocNumber
    date: dt.date


class DocumentIn(Strict):
    """An invoice or a transport document (CMR consignment note): number and date."""

    number: DocNumber
    date: dt.date


class GoodsLineIn(Strict):
    hs_code: str = Field(pattern=r"^[0-9]{6}([0-9]{4})?$", description="HS 6 digits or EAEU 10 digits")
    description: Text = Field(default="", max_length=500)
    quantity: Decimal = Field(gt=0, max_digits=16, decimal_places=3)
    unit: str = Field(
        min_length=1, max_length=10, pattern=r"^[0-9A-Za-z]+$", description="e.g. KGM, PCE, LTR"
    )
    value: Amount
    currency: Iso4217
    reduced_rate: bool = Field(default=False, description="the good is taxed at the reduced 10 % rate")
    excise: NonNegativeAmount = Field(
        default=Decimal(0), description="excise due, in the importing state's currency (excisable goods)"
    )
    invoice: int = Field(default=0, ge=0, le=99, description="the line's invoice: its position in `invoices`")


class ApplicationIn(Strict):
    """An application for the import of goods and payment of indirect taxes (EAEU Treaty Annex 18)."""

    importer: PartyIn | None = Field(
        default=None, description="default: the caller's own business; administrators name it"
    )
    seller: PartyIn
    contract: ContractIn
    invoices: list[DocumentIn] = Field(min_length=1, max_length=100)
    transport_documents: list[DocumentIn] = Field(min_length=1, max_length=100, description="CMR notes")
    lines: list[GoodsLineIn] = Field(min_length=1, max_length=500)
    registered_on: dt.date = Field(description="the day the goods were registered in the importer's books")


class Correction(Strict):
    application: ApplicationIn
    reason: Text = Field(min_length=1, max_length=2000)


class Reason(Strict):
    reason: Text = Field(min_length=1, max_length=2000)


class PaymentIn(Strict):
    amount: Amount
    paid_on: dt.date
    reference: DocNumber


class Payment(BaseModel):
    amount: Decimal
    currency: str
    paid_on: dt.date
    reference: str
    recorded_at: dt.datetime


class LineOut(BaseModel):
    invoice: int = 0
    hs_code: str
    description: str
    quantity: Decimal
    unit: str
    value: Decimal
    currency: str
    rate: Decimal  # the central bank's rate for `nominal` units
    nominal: int
    rate_date: dt.date
    value_national: Decimal
    excise: Decimal
    base: Decimal
    vat_percent: Decimal
    vat: Decimal


class Application(BaseModel):
    number: str
    status: ApplicationStatus
    version: int
    state: str
    importer: dict[str, Any]
    seller: dict[str, Any]
    contract: dict[str, Any]
    invoices: list[dict[str, Any]]
    transport_documents: list[dict[str, Any]]
    lines: list[LineOut]
    registered_on: dt.date
    due_on: dt.date
    currency: str
    tax_base: Decimal
    vat: Decimal
    excise: Decimal
    total_due: Decimal
    paid: Decimal
    refusal_reason: str | None
    filed_at: dt.datetime
    decided_at: dt.datetime | None


class ApplicationSummary(BaseModel):
    number: str
    status: ApplicationStatus
    version: int
    state: str
    importer_tax_id: str
    seller_tax_id: str
    registered_on: dt.date
    due_on: dt.date
    total_due: Decimal
    paid: Decimal
    currency: str


class ApplicationVersion(BaseModel):
    version: int
    event: str
    reason: str | None
    actor: str
    created_at: dt.datetime
    snapshot: dict[str, Any]


class ClaimInvoiceIn(Strict):
    number: DocNumber
    date: dt.date
    amount: Amount
    currency: Iso4217
    hs_code: str | None = Field(
        default=None,
        pattern=r"^[0-9]{6}([0-9]{4})?$",
        description="the main goods' HS code (6 or 10 digits), for the tax gap by HS section",
    )


class ClaimIn(Strict):
    """A shipment to the other state for which the exporter claims the 0 % rate."""

    exporter: PartyIn | None = Field(default=None, description="default: the caller's own business")
    buyer: PartyIn
    invoices: list[ClaimInvoiceIn] = Field(min_length=1, max_length=100)
    shipped_on: dt.date


class Claim(BaseModel):
    number: str
    status: ClaimStatus
    exporter: dict[str, Any]
    buyer: dict[str, Any]
    invoices: list[dict[str, Any]]
    shipped_on: dt.date
    last_day: dt.date
    day: int
    warnings: list[int]
    currency: str
    base: Decimal
    confirmation: str | None
    confirmed_at: dt.datetime | None
    lapsed_at: dt.datetime | None
    vat_percent: Decimal | None
    vat_due: Decimal | None


class RegisterMessage(Strict):
    message_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    kind: str = Field(pattern=r"^(confirmation|withdrawal)$")
    payload: dict[str, Any]
    signature: str = Field(min_length=1, max_length=200)


class Register(Strict):
    """A register of signed messages from one tax authority's node to the other's."""

    register_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    sender: State
    recipient: State
    created_at: dt.datetime
    messages: list[RegisterMessage] = Field(min_length=1, max_length=5000)


class Acknowledgement(BaseModel):
    register_id: str
    receiver: str
    applied: list[str]  # message ids applied by this receipt
    already_applied: list[str]  # message ids received before (applied then, not again)


class ExchangeStatus(BaseModel):
    node: str | None
    peer_url: str | None
    pending_messages: int
    registers_awaiting_ack: int
    registers_received: int


class SendResult(BaseModel):
    registers_sent: int
    messages_acknowledged: int
    failures: list[str]


class DeadlineResult(BaseModel):
    warned_150: list[str]
    warned_170: list[str]
    lapsed: list[str]


class GapRow(BaseModel):
    """One key of the tax gap: counts and amounts (in the invoices' currencies, summed) per category."""

    key: dict[str, Any]
    matched_count: int
    matched_claimed: Decimal
    matched_confirmed: Decimal
    mismatched_count: int
    mismatched_claimed: Decimal
    mismatched_confirmed: Decimal
    unconfirmed_count: int
    unconfirmed_amount: Decimal
    unclaimed_count: int
    unclaimed_amount: Decimal
    unsupported_amount: Decimal = Field(
        description="claimed at 0 % without a confirmation behind it: unconfirmed claims plus the excess of mismatched ones"
    )


class TaxGap(BaseModel):
    """A state's exporters' claims reconciled against the confirmations received, grouped by a key."""

    state: str
    by: str
    counts: dict[str, int] = Field(
        description="invoice rows per category: matched, mismatched, unconfirmed, unclaimed"
    )
    rows: list[GapRow]


class GapDocument(BaseModel):
    """A document behind a cell of the tax gap: the claim, the confirmation (sender/application), or both."""

    claim: str | None
    confirmation: str | None
    claimed: Decimal | None
    confirmed: Decimal | None
