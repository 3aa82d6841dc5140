"""Goods declarations' rules: the clearance state machine and the customs value. No I/O.

The lifecycle (EAEU Customs Code art. 104-118: registration, customs control, release or refusal):

    registered -> released                    (automatic: green lane of an AEO, or blue lane)
    registered -> in_control                  (an officer of the office takes it from the queue)
    in_control | checked -> checked           (documentary check or inspection results recorded)
    in_control | checked -> released          (green or blue lane: no check is required)
    checked -> released                       (yellow or red lane: only after the check's results)
    in_control | checked -> refused           (with the officer's reason)

The customs value follows the transaction-value method (EAEU Customs Code art. 39-40): the price
actually paid or payable for the goods, plus the costs the buyer bears that the price does not contain
up to the place of arrival in the Union (for exports: of departure from it): transport, loading,
unloading and handling, insurance (art. 40); less the costs after that place, when the price contains
them and they are shown apart from it. Each adjustment is converted to the national currency at the
central bank's rate in force on the registration day and apportioned to the items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tamga.clearance.screening import Lane
from tamga.kit.errors import Conflict, FieldError, IllegalTransition
from tamga.kit.money import round_money

MAX_ITEMS = 999


class InsufficientFunds(Conflict):
    """The declarant's prepaid account cannot pay what the declaration owes (409 with the shortfall)."""

    title = "Prepaid account balance too low"
    type_slug = "insufficient-funds"


class Direction(StrEnum):
    IMPORT = "import"  # release for domestic consumption (EAEU Customs Code art. 134)
    EXPORT = "export"  # export (art. 139)


class Status(StrEnum):
    REGISTERED = "registered"
    IN_CONTROL = "in_control"
    CHECKED = "checked"
    RELEASED = "released"
    REFUSED = "refused"


class Action(StrEnum):
    AUTO_RELEASE = "auto_release"
    TAKE = "take"
    RECORD_RESULTS = "record_results"
    RELEASE = "release"
    REFUSE = "refuse"


S = Status
# Lanes that need the results of a check before release: yellow (documents), red (inspection).
CHECKED_LANES = frozenset({Lane.YELLOW, Lane.RED})
# Queue states: registered and not yet released or refused.
OPEN = frozenset({S.REGISTERED, S.IN_CONTROL, S.CHECKED})
FINAL = frozenset({S.RELEASED, S.REFUSED})

TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.AUTO_RELEASE: (frozenset({S.REGISTERED}), S.RELEASED),
    Action.TAKE: (frozenset({S.REGISTERED}), S.IN_CONTROL),
    Action.RECORD_RESULTS: (frozenset({S.IN_CONTROL, S.CHECKED}), S.CHECKED),
    Action.RELEASE: (frozenset({S.IN_CONTROL, S.CHECKED}), S.RELEASED),
    Action.REFUSE: (frozenset({S.IN_CONTROL, S.CHECKED}), S.REFUSED),
}


def allowed_from(action: Action, lane: Lane) -> list[Status]:
    """Give the states an action is allowed from for a declaration in `lane`, in lifecycle order."""
    sources = TRANSITIONS[action][0]
    if action is Action.RELEASE and lane in CHECKED_LANES:
        sources = frozenset({S.CHECKED})
    return [s for s in Status if s in sources]


def next_status(current: Status, action: Action, lane: Lane) -> Status:
    """Give the state an action leads to, or refuse it (409) naming the states that allow it."""
    allowed = allowed_from(action, lane)
    if current not in allowed:
        why = (
            " (a yellow or red lane is released only after the check's results)"
            if (action is Action.RELEASE and lane in CHECKED_LANES and current is S.IN_CONTROL)
            else ""
        )
        raise IllegalTransition(
            f"cannot {action.value.replace('_', ' ')} a declaration that is {current.value}; "
            f"allowed only when it is {', '.join(allowed)}{why}",
            current_status=current.value,
            allowed_from=[s.value for s in allowed],
        )
    return TRANSITIONS[action][1]


def released_automatically(lane: Lane, aeo: bool) -> bool:
    """Tell whether a declaration is released with no human action: green for an AEO, blue for anyone.

    Blue is "release now, audit later" (post-clearance control, EAEU Customs Code art. 331): the goods
    go at once and the declaration is flagged for audit.
    """
    return lane is Lane.BLUE or (lane is Lane.GREEN and aeo)


def registration_number(office: str, at: datetime, serial: int) -> str:
    """Give the registration number `office/DDMMYY/serial` (serial per office and day, 7 digits)."""
    return f"{office}/{at:%d%m%y}/{serial:07d}"


def ref_of(registration: str) -> str:
    """Give the URL-safe reference of a registration number (its slashes as dashes)."""
    return registration.replace("/", "-")


# --- the customs value ----------------------------------------------------------------------------


class CostKind(StrEnum):
    """A cost that adjusts the price to the transaction value, and on which side of the border it falls."""

    TRANSPORT = "transport"  # to the place of arrival (art. 40): added
    LOADING = "loading"  # loading, unloading, handling to the place of arrival (art. 40): added
    INSURANCE = "insurance"  # insurance of the carriage to the place of arrival (art. 40): added
    TRANSPORT_AFTER_ARRIVAL = "transport_after_arrival"  # contained in the price, shown apart: deducted
    SERVICES_AFTER_ARRIVAL = "services_after_arrival"  # assembly, installation after import: deducted

    @property
    def deducted(self) -> bool:
        return self in (CostKind.TRANSPORT_AFTER_ARRIVAL, CostKind.SERVICES_AFTER_ARRIVAL)


class Basis(StrEnum):
    """How a cost that concerns every item is shared among them."""

    GROSS_MASS = "gross_mass"
    VALUE = "value"


DEFAULT_BASIS: Mapping[CostKind, Basis] = {
    CostKind.TRANSPORT: Basis.GROSS_MASS,
    CostKind.LOADING: Basis.GROSS_MASS,
    CostKind.INSURANCE: Basis.VALUE,
    CostKind.TRANSPORT_AFTER_ARRIVAL: Basis.GROSS_MASS,
    CostKind.SERVICES_AFTER_ARRIVAL: Basis.VALUE,
}
# Why each basis, shown with every adjustment: a carrier charges freight and handling by weight (and the
# EEC Board's order on declaring customs value apportions transport costs in proportion to gross mass);
# an insurer's premium and the price of services are percentages of the value, so they follow the price.
BASIS_REASON: Mapping[Basis, str] = {
    Basis.GROSS_MASS: "in proportion to gross mass: carriage and handling are charged by weight",
    Basis.VALUE: "in proportion to the invoice price: premiums and service charges are a share of the value",
}


@dataclass(frozen=True, slots=True)
class PricedItem:
    """An item's invoice price and masses, as the valuation reads them."""

    number: int
    price: Decimal
    currency: str
    gross_mass_kg: Decimal


@dataclass(frozen=True, slots=True)
class Cost:
    """One adjustment to the price, in the currency it was invoiced in."""

    kind: CostKind
    amount: Decimal
    currency: str
    basis: Basis


@dataclass(frozen=True, slots=True)
class Share:
    """What one adjustment puts on one item, in the national currency."""

    cost_index: int
    kind: CostKind
    amount: Decimal  # negative for a deduction


@dataclass(frozen=True, slots=True)
class ItemValue:
    """An item's customs value and how it was reached."""

    number: int
    price_national: Decimal
    rate: Decimal  # national units per one unit of the invoice currency
    shares: tuple[Share, ...]
    customs_value: Decimal


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One adjustment converted to the national currency and how it was apportioned."""

    index: int
    kind: CostKind
    amount: Decimal
    currency: str
    rate: Decimal
    national: Decimal
    basis: Basis
    deducted: bool


@dataclass(frozen=True, slots=True)
class Valuation:
    """The customs value of every item, with each adjustment shown."""

    currency: str
    items: tuple[ItemValue, ...]
    adjustments: tuple[Adjustment, ...]

    @property
    def total(self) -> Decimal:
        return sum((i.customs_value for i in self.items), Decimal(0))


def apportion(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Give shares of `amount` (kopecks) in proportion to `weights`, summing exactly to it.

    Each share is rounded half-up to kopecks; the kopecks rounding leaves over go to the item of the
    largest weight (the first of equals), so the shares shown add up to the adjustment shown.
    """
    total = sum(weights, Decimal(0))
    if total <= 0:
        raise ValueError("apportioning needs a positive total weight")
    shares = [round_money(amount * w / total) for w in weights]
    rest = amount - sum(shares, Decimal(0))
    if rest:
        largest = max(range(len(weights)), key=lambda i: (weights[i], -i))
        shares[largest] += rest
    return shares


def customs_values(
    items: Sequence[PricedItem],
    costs: Sequence[Cost],
    per_unit: Mapping[str, Decimal],
    national: str,
) -> Valuation:
    """Give each item's customs value by the transaction-value method, in the national currency.

    `per_unit` maps each foreign currency to national units per one unit on the registration day.
    Prices and adjustments are converted and rounded half-up to kopecks (the declaration states values
    in the national currency to two decimals), then adjustments are apportioned by their basis.
    Raises ValueError when a deduction exceeds an item's price (callers check it first with
    `valuation_errors`).
    """

    def rate_of(currency: str) -> Decimal:
        return Decimal(1) if currency == national else per_unit[currency]

    prices = [round_money(i.price * rate_of(i.currency)) for i in items]
    masses = [i.gross_mass_kg for i in items]
    shares: list[list[Share]] = [[] for _ in items]
    adjustments: list[Adjustment] = []
    for index, cost in enumerate(costs):
        rate = rate_of(cost.currency)
        national_amount = round_money(cost.amount * rate)
        sign = Decimal(-1) if cost.kind.deducted else Decimal(1)
        weights = masses if cost.basis is Basis.GROSS_MASS else prices
        for n, part in enumerate(apportion(national_amount, weights)):
            shares[n].append(Share(index, cost.kind, sign * part))
        adjustments.append(
            Adjustment(
                index,
                cost.kind,
                cost.amount,
                cost.currency,
                rate,
                national_amount,
                cost.basis,
                cost.kind.deducted,
            )
        )
    values: list[ItemValue] = []
    for n, item in enumerate(items):
        value = prices[n] + sum((s.amount for s in shares[n]), Decimal(0))
        if value <= 0:
            raise ValueError(f"item {item.number}: the deductions exceed the price")
        values.append(ItemValue(item.number, prices[n], rate_of(item.currency), tuple(shares[n]), value))
    return Valuation(national, tuple(values), tuple(adjustments))


def valuation_errors(
    items: Sequence[PricedItem], costs: Sequence[Cost], per_unit: Mapping[str, Decimal], national: str
) -> list[FieldError]:
    """Give the faults that make a customs value impossible: deductions as large as the price."""
    try:
        customs_values(items, costs, per_unit, national)
    except ValueError as exc:
        first = next((i for i, c in enumerate(costs) if c.kind.deducted), 0)
        return [FieldError(f"body.costs[{first}].amount", str(exc))]
    return []
