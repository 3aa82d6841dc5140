"""Documents as rows (dicts or ORM-like objects) into reconciliation columns, and the keys back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tamga.taxation.reconcile import reconcile
from tamga.taxation.reconcile_rows import (
    amount_minor,
    claims_from_rows,
    confirmations_from_rows,
    day_key,
    hs_section_key,
    invoice_key,
    month_key,
    party_key,
    region_code,
    region_codes,
    region_key,
    tax_id_of,
)


@pytest.mark.parametrize(
    "tax_id", ["0105012345", "7707083893", "010501234567", "500100732259", "100289066", "MA1953684"]
)
def test_party_keys_are_distinct_and_give_the_identifier_back(tax_id: str) -> None:
    assert tax_id_of(party_key(tax_id)) == tax_id
    assert party_key(f" {tax_id.lower()} ") == party_key(tax_id)


def test_party_keys_of_both_states_never_meet() -> None:
    keys = {party_key(t) for t in ("0000000001", "000000000001", "000000001", "100000000")}
    assert len(keys) == 4
    for bad in ("", "12345", "77070838931", "ИНН7707083893"):
        with pytest.raises(ValueError, match="INN or a UNP"):
            party_key(bad)


def test_scalar_keys() -> None:
    assert invoice_key(" сф-12  a ") == invoice_key("СФ-12 A") != invoice_key("СФ-12A")
    assert day_key(date(1970, 1, 2)) == 1
    assert month_key(date(2026, 1, 31)) == 202601
    assert amount_minor(Decimal("1234.565")) == 123457  # half up
    assert amount_minor(Decimal("0.004")) == 0
    assert hs_section_key("0201300005") == 1
    assert hs_section_key("870321") == 17
    assert hs_section_key("970110") == 21
    codes = region_codes()
    assert len(codes) == 90
    assert len([c for c in codes if c.startswith("RU-")]) == 83
    assert region_code(region_key("ru-smo")) == "RU-SMO"
    with pytest.raises(ValueError, match="region"):
        region_key("UA-43")


@dataclass
class ClaimRow:
    claim_id: int
    seller_inn: str
    buyer_unp: str
    invoice_number: str
    invoice_date: date
    amount: Decimal
    seller_region: str
    buyer_region: str
    hs_code: str


def test_rows_of_either_shape_reconcile() -> None:
    claims = claims_from_rows(
        [
            ClaimRow(
                11,
                "7707083893",
                "100289066",
                "СФ-1",
                date(2026, 1, 15),
                Decimal("1000.00"),
                "RU-MOW",
                "BY-HM",
                "870321",
            ),
            ClaimRow(
                12,
                "7707083893",
                "100289066",
                "СФ-2",
                date(2026, 1, 16),
                Decimal("500.00"),
                "RU-MOW",
                "BY-HM",
                "020130",
            ),
        ],
        fields={"id": "claim_id", "seller_tax_id": "seller_inn", "buyer_tax_id": "buyer_unp"},
    )
    confirmation: dict[str, Any] = {
        "id": 7,
        "seller_tax_id": "7707083893",
        "buyer_tax_id": "100289066",
        "invoice_number": "сф-1",
        "invoice_date": date(2026, 1, 15),
        "amount": Decimal("1000.40"),
        "seller_region": "RU-MOW",
        "buyer_region": "BY-HM",
        "hs_code": "8703 21",
        "period": date(2026, 2, 3),
    }
    confirmations = confirmations_from_rows([confirmation])
    assert claims.ids.tolist() == [11, 12]
    assert confirmations.month.tolist() == [202602]
    assert claims.month.tolist() == [202601, 202601]
    assert claims.hs_section.tolist() == [17, 1]
    result = reconcile(claims, confirmations)
    assert result.counts() == {"matched": 1, "mismatched": 0, "unconfirmed": 1, "unclaimed": 0}
    with pytest.raises(ValueError, match="amount"):
        confirmations_from_rows([{k: v for k, v in confirmation.items() if k != "amount"}])
