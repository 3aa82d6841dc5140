"""Rules of the taxation of mutual trade between Russia and Belarus. No I/O.

Sources: the Treaty on the Eurasian Economic Union of 29 May 2014, Annex 18, Protocol on the procedure for
levying indirect taxes and the mechanism for monitoring their payment in the export and import of goods
(the Protocol); Tax Code of the Russian Federation art. 164 (VAT rates); Tax Code of the Republic of
Belarus art. 122 (VAT rates).

- The tax base on import is the value of the goods acquired plus the excise due on them (Protocol
  para 13), the foreign currency converted at the rate of the importing state's central (national) bank
  on the day the goods are registered in the importer's books (para 14).
- The indirect taxes are paid, and the tax return with the application is filed, no later than the 20th
  of the month following the month in which the goods were registered (paras 19 and 20).
- The exporter applies 0 % when it submits, within 180 calendar days from the shipment, the application
  bearing the importing state's authority's mark of payment (paras 3 and 4); without it the export is
  taxed at the national standard rate for the tax period of the shipment (para 5).

Rounding: every amount of the application (each line's base in national currency, its VAT and excise) is
kept in roubles and kopecks, rounded half-up to 0.01, line by line, and totals are sums of rounded
lines. The full-rouble rounding of the Russian Tax Code art. 52 para 6 applies to the tax computed in a
return, not to the application, and is not applied here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from tamga.kit.money import round_money

UNION_STATES: Final = ("RU", "BY")

CLAIM_WINDOW_DAYS: Final = 180  # Protocol para 4: 180 calendar days from the shipment
CLAIM_WARNING_DAYS: Final = (150, 170)
# Amounts of a claim and of the received application are compared per currency: they agree when they
# differ by at most the larger of one unit of the currency and 1 % of the confirmed amount (invoices
# rounded differently on each side, a bank charge). tamga's policy, the same as the reconciliation's
# (`tamga.taxation.reconcile`): the Protocol fixes no tolerance.
MATCH_TOLERANCE_ABSOLUTE: Final = Decimal("1.00")
MATCH_TOLERANCE_RELATIVE: Final = Decimal("0.01")


def other_state(state: str) -> str:
    """Give the other Union State of the pair (RU for BY, BY for RU)."""
    return "BY" if state == "RU" else "RU"


# --- the application ------------------------------------------------------------------------------


class ApplicationStatus(StrEnum):
    FILED = "filed"
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class ApplicationAction(StrEnum):
    PAY = "pay"
    CONFIRM = "confirm"
    REFUSE = "refuse"
    CORRECT = "correct"
    WITHDRAW = "withdraw"


_ALLOWED: Final[dict[ApplicationAction, frozenset[ApplicationStatus]]] = {
    ApplicationAction.PAY: frozenset({ApplicationStatus.FILED, ApplicationStatus.REFUSED}),
    ApplicationAction.CONFIRM: frozenset({ApplicationStatus.FILED}),
    ApplicationAction.REFUSE: frozenset({ApplicationStatus.FILED}),
    ApplicationAction.CORRECT: frozenset(
        {ApplicationStatus.FILED, ApplicationStatus.REFUSED, ApplicationStatus.CONFIRMED}
    ),
    ApplicationAction.WITHDRAW: frozenset(
        {ApplicationStatus.FILED, ApplicationStatus.REFUSED, ApplicationStatus.CONFIRMED}
    ),
}


def allowed_states(action: ApplicationAction) -> frozenset[ApplicationStatus]:
    """Give the states of an application in which the action may be taken."""
    return _ALLOWED[action]


def next_status(status: ApplicationStatus, action: ApplicationAction) -> ApplicationStatus | None:
    """Give the status after the action, or None when the action is not allowed in this status."""
    if status not in _ALLOWED[action]:
        return None
    return {
        ApplicationAction.PAY: status,
        ApplicationAction.CONFIRM: ApplicationStatus.CONFIRMED,
        ApplicationAction.REFUSE: ApplicationStatus.REFUSED,
        # a corrected application is examined again; a confirmed one is confirmed anew (a new version)
        ApplicationAction.CORRECT: ApplicationStatus.FILED,
        ApplicationAction.WITHDRAW: ApplicationStatus.WITHDRAWN,
    }[action]


def vat_due_date(registered_on: date) -> date:
    """Give the day by which the taxes and the application are due: the 20th of the following month.

    Protocol paras 19 and 20; registration in December is due on 20 January of the next year.
    """
    if registered_on.month == 12:
        return date(registered_on.year + 1, 1, 20)
    return date(registered_on.year, registered_on.month + 1, 20)


@dataclass(frozen=True, slots=True)
class LineTaxInput:
    """What computing one goods line needs: its value, the rate to national currency, excise, VAT rate."""

    value: Decimal  # in the line's currency
    per_unit_rate: Decimal  # national currency for one unit of the line's currency (1 for national)
    excise: Decimal  # in national currency, as the importer's excise law computes it (0 if none)
    vat_percent: Decimal


@dataclass(frozen=True, slots=True)
class LineTax:
    """One goods line's amounts in national currency, each rounded half-up to kopecks."""

    value_national: Decimal
    excise: Decimal
    base: Decimal
    vat: Decimal


def line_tax(line: LineTaxInput) -> LineTax:
    """Give a line's value in national currency, its base (value plus excise) and VAT (Protocol para 13-14)."""
    value_national = round_money(line.value * line.per_unit_rate)
    excise = round_money(line.excise)
    base = value_national + excise
    vat = round_money(base * line.vat_percent / Decimal(100))
    return LineTax(value_national=value_national, excise=excise, base=base, vat=vat)


@dataclass(frozen=True, slots=True)
class ApplicationTotals:
    """The application's sums over its lines, in national currency."""

    tax_base: Decimal
    vat: Decimal
    excise: Decimal

    @property
    def total_due(self) -> Decimal:
        return self.vat + self.excise


def application_totals(lines: Iterable[LineTax]) -> ApplicationTotals:
    """Give the totals of rounded lines (the application carries the sums of its lines)."""
    base = vat = excise = Decimal("0.00")
    for line in lines:
        base += line.base
        vat += line.vat
        excise += line.excise
    return ApplicationTotals(tax_base=base, vat=vat, excise=excise)


def canonical_json(value: Any) -> bytes:
    """Give the canonical bytes of a JSON value: sorted keys, no spaces, UTF-8 (what is hashed and signed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def application_fingerprint(
    importer: tuple[str, str],
    seller: tuple[str, str],
    contract: tuple[str, date],
    invoices: Iterable[tuple[str, date]],
) -> str:
    """Give what identifies an application: parties, contract and the set of invoices (a duplicate has it too)."""
    key = {
        "importer": list(importer),
        "seller": list(seller),
        "contract": [contract[0].strip().upper(), contract[1].isoformat()],
        "invoices": sorted([n.strip().upper(), d.isoformat()] for n, d in invoices),
    }
    return hashlib.sha256(canonical_json(key)).hexdigest()


# --- the exporter's 0 % claim ---------------------------------------------------------------------


class ClaimStatus(StrEnum):
    PENDING = "pending"  # 0 % claimed, no confirmation yet
    CONFIRMED = "confirmed"  # the importing state's confirmation matched
    LAPSED = "lapsed"  # day 181 passed without it: the standard rate applies


def claim_day(shipped_on: date, today: date) -> int:
    """Give which day of the window `today` is: the shipment day is day 1."""
    return (today - shipped_on).days + 1


def claim_last_day(shipped_on: date) -> date:
    """Give the last day (day 180) on which the confirmation keeps the 0 % rate."""
    return shipped_on + timedelta(days=CLAIM_WINDOW_DAYS - 1)


def claim_warnings_due(shipped_on: date, today: date) -> tuple[int, ...]:
    """Give the warning days (150, 170) reached by `today`."""
    day = claim_day(shipped_on, today)
    return tuple(w for w in CLAIM_WARNING_DAYS if day >= w)


def claim_lapsed(shipped_on: date, today: date) -> bool:
    """Tell whether the window is over: from day 181 the claim falls back to the standard rate."""
    return claim_day(shipped_on, today) > CLAIM_WINDOW_DAYS


def fallback_vat(base: Decimal, vat_percent: Decimal) -> Decimal:
    """Give the VAT due at the standard rate on a claim's base (Protocol para 5), rounded to kopecks."""
    return round_money(base * vat_percent / Decimal(100))


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice as both sides name it: number, date, and (for a claim) its amount and currency."""

    number: str
    day: date
    amount: Decimal = Decimal(0)
    currency: str = ""

    @property
    def key(self) -> tuple[str, date]:
        return (self.number.strip().upper(), self.day)


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    exporter_tax_id: str
    buyer_tax_id: str
    invoices: Sequence[Invoice]


@dataclass(frozen=True, slots=True)
class ConfirmationFacts:
    seller_tax_id: str
    importer_tax_id: str
    invoices: Sequence[Invoice]  # number and date
    amounts: dict[str, Decimal]  # value of the goods per currency of the contract


def amounts_agree(claimed: Decimal, confirmed: Decimal) -> bool:
    """Tell whether a claimed amount agrees with the confirmed one (within 1.00 or 1 % of it, the larger)."""
    limit = max(MATCH_TOLERANCE_ABSOLUTE, MATCH_TOLERANCE_RELATIVE * abs(confirmed))
    return abs(claimed - confirmed) <= limit


def match_problems(claim: ClaimFacts, confirmation: ConfirmationFacts) -> list[str]:
    """Give why a confirmation does not confirm a claim (empty: it does).

    Seller and buyer identifiers must be the same, the invoices (number and date) the same set, and the
    amounts per currency must agree within the tolerance.
    """
    problems: list[str] = []
    if claim.exporter_tax_id != confirmation.seller_tax_id:
        problems.append("seller identifier differs")
    if claim.buyer_tax_id != confirmation.importer_tax_id:
        problems.append("buyer identifier differs")
    claimed = {i.key for i in claim.invoices}
    confirmed = {i.key for i in confirmation.invoices}
    if claimed != confirmed:
        problems.append("invoices differ")
    per_currency: dict[str, Decimal] = {}
    for i in claim.invoices:
        per_currency[i.currency] = per_currency.get(i.currency, Decimal(0)) + i.amount
    if set(per_currency) != set(confirmation.amounts):
        problems.append("currencies differ")
    else:
        for currency, amount in sorted(per_currency.items()):
            if not amounts_agree(amount, confirmation.amounts[currency]):
                problems.append(
                    f"{currency} amounts differ beyond the tolerance: {amount} claimed, "
                    f"{confirmation.amounts[currency]} confirmed"
                )
    return problems
