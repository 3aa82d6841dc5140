"""Reconciliation and the tax gap of one state: its exporters' 0 % claims against the confirmations the
other state's authority sent, through the column engine of `taxation.reconcile`.

One document row per invoice and currency on each side:

- a claim gives one row per invoice it lists (its amount and currency as the exporter declared them);
- a received confirmation gives one row per invoice and currency of its goods lines (the lines' values
  summed), so a confirmation of two invoices meets a claim of the same two invoices row by row.

The currency is part of the invoice key: an invoice confirmed in another currency than claimed is a claim
without confirmation and a confirmation without claim, never a comparison of unlike amounts. Amounts are
compared in minor units within the engine's tolerance (max(1.00, 1 %), the same as claim matching in
`taxation.domain.amounts_agree`).

Keys of the tax gap: the region pair is (seller's region, buyer's region) as ISO 3166-2 codes (None when a
claim did not give one); the month is the shipment month for claims and the registration month for
confirmations; the HS section is the invoice's HS code when the claim gives one (0, "unknown", otherwise),
and the goods line's code for confirmations.

Withdrawn confirmations take no part. Everything is read and computed per request: at a state's scale
(millions of rows) the same engine runs over a batch export (see `bench/tax.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from tamga.auth.domain import Principal, Role
from tamga.kit.errors import FieldError, Forbidden, ValidationFailed
from tamga.models.taxation import TaxClaim, TaxConfirmation
from tamga.taxation import repository
from tamga.taxation.reconcile import (
    CATEGORIES,
    DEFAULT_TOLERANCE_MINOR,
    DEFAULT_TOLERANCE_RATIO,
    Claims,
    Confirmations,
    Reconciliation,
    drill_down,
    reconcile,
    tax_gap,
)
from tamga.taxation.reconcile_rows import (
    ROMAN_SECTIONS,
    UNKNOWN_REGION,
    claims_from_rows,
    confirmations_from_rows,
    region_key,
    region_or_none,
)

GapBy = Literal["region_pair", "month", "hs_section"]
Category = Literal["matched", "mismatched", "unconfirmed", "unclaimed"]


@dataclass(frozen=True)
class StateDocuments:
    """One state's documents as the engine's columns, with the numbers to show for their ids."""

    state: str
    claims: Claims
    confirmations: Confirmations
    claim_numbers: dict[int, str]
    confirmation_numbers: dict[int, str]
    result: Reconciliation


def _invoice_id(number: str, currency: str) -> str:
    return f"{number}|{currency}"


def claim_rows(claims: Sequence[TaxClaim]) -> list[dict[str, Any]]:
    """Give the document rows of claims: one per invoice."""
    return [
        {
            "id": c.id,
            "seller_tax_id": c.exporter_tax_id,
            "buyer_tax_id": c.buyer_tax_id,
            "invoice_number": _invoice_id(str(inv["number"]), str(inv["currency"])),
            "invoice_date": date.fromisoformat(str(inv["date"])),
            "amount": Decimal(str(inv["amount"])),
            "seller_region": c.exporter_region,
            "buyer_region": c.buyer_region,
            "hs_code": inv.get("hs_code"),
            "period": c.shipped_on,
        }
        for c in claims
        for inv in c.invoices
    ]


def confirmation_rows(confirmations: Sequence[TaxConfirmation]) -> list[dict[str, Any]]:
    """Give the document rows of received confirmations: one per invoice and currency of the goods lines."""
    rows: list[dict[str, Any]] = []
    for c in confirmations:
        p = c.payload
        per_invoice: dict[tuple[str, str, str], tuple[Decimal, str]] = {}
        for line in p.get("lines", []):
            invoice = line["invoice"]
            key = (str(invoice["number"]), str(invoice["date"]), str(line["currency"]))
            amount, hs_code = per_invoice.get(key, (Decimal(0), str(line["hs_code"])))
            per_invoice[key] = (amount + Decimal(str(line["value"])), hs_code)
        registered = p.get("registered_on")
        for (number, day, currency), (amount, hs_code) in per_invoice.items():
            rows.append(
                {
                    "id": c.id,
                    "seller_tax_id": c.seller_tax_id,
                    "buyer_tax_id": c.importer_tax_id,
                    "invoice_number": _invoice_id(number, currency),
                    "invoice_date": date.fromisoformat(day),
                    "amount": amount,
                    "seller_region": (p.get("seller") or {}).get("region"),
                    "buyer_region": (p.get("importer") or {}).get("region"),
                    "hs_code": hs_code,
                    "period": date.fromisoformat(registered) if registered else None,
                }
            )
    return rows


def _state_of(principal: Principal, state: str | None) -> str:
    if principal.role is Role.TAX_OFFICER:
        if state is not None and state != principal.country:
            raise Forbidden(f"a tax officer of {principal.country} reconciles {principal.country}'s claims")
        assert principal.country is not None
        return principal.country
    if not principal.is_admin:
        raise Forbidden("reconciliation is for tax authorities")
    if state not in ("RU", "BY"):
        raise ValidationFailed([FieldError("query.state", "RU or BY: whose exporters' claims to reconcile")])
    return state


async def documents(
    session: AsyncSession,
    principal: Principal,
    *,
    state: str | None,
    shipped_from: date | None = None,
    shipped_to: date | None = None,
) -> StateDocuments:
    """Load and reconcile a state's claims (shipped in the window) and the confirmations it received."""
    country = _state_of(principal, state)
    if shipped_from and shipped_to and shipped_from > shipped_to:
        raise ValidationFailed([FieldError("query.shipped_to", "before shipped_from")])
    claim_list = await repository.claims_of_exporters(session, country, shipped_from, shipped_to)
    confirmation_list = await repository.active_confirmations_of_sellers(session, country)
    claims = claims_from_rows(claim_rows(claim_list))
    confirmations = confirmations_from_rows(confirmation_rows(confirmation_list))
    return StateDocuments(
        state=country,
        claims=claims,
        confirmations=confirmations,
        claim_numbers={c.id: c.number for c in claim_list},
        confirmation_numbers={c.id: f"{c.sender}/{c.application_number}" for c in confirmation_list},
        result=reconcile(
            claims,
            confirmations,
            tolerance_minor=DEFAULT_TOLERANCE_MINOR,
            tolerance_ratio=DEFAULT_TOLERANCE_RATIO,
        ),
    )


def _minor(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def key_label(by: GapBy, key: Sequence[int]) -> dict[str, Any]:
    """Give a gap table key in words: region codes, a YYYY-MM month, or an HS section numeral."""
    if by == "region_pair":
        return {"seller_region": region_or_none(key[0]), "buyer_region": region_or_none(key[1])}
    if by == "month":
        return {"month": f"{key[0] // 100:04d}-{key[0] % 100:02d}"}
    return {"hs_section": ROMAN_SECTIONS[key[0] - 1] if key[0] > 0 else None}


def gap_rows(docs: StateDocuments, by: GapBy) -> list[dict[str, Any]]:
    """Give the tax gap of a state's documents per key: counts, and amounts in currency units."""
    table = tax_gap(docs.result, docs.claims, docs.confirmations, by=by)
    rows = []
    for row in table.rows():
        key = [row[name] for name in table.key_names]
        out: dict[str, Any] = {"key": key_label(by, key)}
        for measure in table.MEASURES:
            value = row[measure]
            out[measure] = value if measure.endswith("_count") else _minor(value)
        rows.append(out)
    return rows


def parse_key(by: GapBy, key: str) -> tuple[int, ...]:
    """Read a gap table key given in words ("RU-SMO,BY-HM", "2026-01", "XVI"); raise ValidationFailed."""
    try:
        if by == "region_pair":
            seller, buyer = key.split(",")
            return tuple(
                UNKNOWN_REGION if part.strip() in ("", "unknown") else region_key(part)
                for part in (seller, buyer)
            )
        if by == "month":
            year, month = key.split("-")
            if not 1 <= int(month) <= 12:
                raise ValueError(month)
            return (int(year) * 100 + int(month),)
        if key in ("", "unknown"):
            return (0,)
        return (ROMAN_SECTIONS.index(key.strip().upper()) + 1,)
    except ValueError:
        shapes = {"region_pair": "RU-SMO,BY-HM", "month": "2026-01", "hs_section": "XVI"}
        raise ValidationFailed([FieldError("query.key", f"a {by} key looks like {shapes[by]}")]) from None


def documents_behind(
    docs: StateDocuments, by: GapBy, key: tuple[int, ...], category: Category
) -> list[dict[str, Any]]:
    """Give the documents behind one cell of the tax gap: claim and confirmation numbers with amounts."""
    if category not in CATEGORIES:
        raise ValidationFailed([FieldError("query.category", f"one of {', '.join(CATEGORIES)}")])
    cell = drill_down(docs.result, docs.claims, docs.confirmations, by=by, key=key, category=category)
    size = max(cell.claim_ids.size, cell.confirmation_ids.size)
    out = []
    for i in range(size):
        claim = int(cell.claim_ids[i]) if cell.claim_ids.size else None
        confirmation = int(cell.confirmation_ids[i]) if cell.confirmation_ids.size else None
        out.append(
            {
                "claim": docs.claim_numbers.get(claim) if claim is not None else None,
                "confirmation": docs.confirmation_numbers.get(confirmation)
                if confirmation is not None
                else None,
                "claimed": _minor(int(cell.claimed[i])) if cell.claimed.size else None,
                "confirmed": _minor(int(cell.confirmed[i])) if cell.confirmed.size else None,
            }
        )
    return out
