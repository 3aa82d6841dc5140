"""Synthetic trade: valid identifiers in every region, the documented mix, determinism, and the expected
outcome that reconciliation must find in both shapes."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import numpy as np
import pytest
from stdnum.by import unp
from stdnum.ru import inn, ogrn

from tamga.reference.catalog import load_catalog
from tamga.taxation.reconcile import reconcile
from tamga.taxation.reconcile_rows import claims_from_rows, confirmations_from_rows, region_code, tax_id_of
from tamga.taxation.synthetic import (
    BY_UNP_REGION,
    DEFAULT_MIX,
    RU_TAX_REGION,
    Mix,
    Scenario,
    SyntheticArrays,
    companies,
    trade_arrays,
    trade_rows,
)

ALL_REGIONS = {r.code for r in load_catalog().regions()}


def test_companies_have_valid_identifiers_in_every_region() -> None:
    made = companies(4, per_ru_region=5, per_by_region=20)
    assert {c.region for c in made} == ALL_REGIONS
    assert set(RU_TAX_REGION) | set(BY_UNP_REGION) == ALL_REGIONS
    assert len({c.tax_id for c in made}) == len(made) == 83 * 5 + 7 * 20
    for c in made:
        if c.country == "RU":
            assert inn.is_valid(c.tax_id), c
            assert c.ogrn is not None and ogrn.is_valid(c.ogrn), c
            assert c.kpp is not None and len(c.kpp) == 9 and c.kpp.isdigit() and c.kpp[:4] == c.tax_id[:4]
            assert int(c.tax_id[:2]) == RU_TAX_REGION[c.region] == int(c.ogrn[3:5])
        else:
            assert c.country == "BY" and c.kpp is None and c.ogrn is None
            assert unp.is_valid(c.tax_id), c
            assert int(c.tax_id[0]) == BY_UNP_REGION[c.region]


@pytest.fixture(scope="module")
def arrays() -> SyntheticArrays:
    return trade_arrays(200_000, seed=3)


def test_arrays_reconcile_to_the_expected_outcome(arrays: SyntheticArrays) -> None:
    trade = arrays
    n = 200_000
    assert len(trade.claims) == len(trade.confirmations) == n
    result = reconcile(trade.claims, trade.confirmations)
    assert result.counts() == trade.expected
    # the scenario of each document is where reconciliation puts it
    unconfirmed = Counter(trade.claim_scenario[result.unconfirmed_claims].tolist())
    assert set(unconfirmed) == {
        Scenario.NO_CONFIRMATION,
        Scenario.WRONG_DATE,
        Scenario.WRONG_NUMBER,
        Scenario.DUPLICATE_CLAIM,
    }
    mismatched = set(trade.claim_scenario[result.mismatched_claims].tolist())
    assert mismatched <= {Scenario.MISMATCH, Scenario.DUPLICATE_CLAIM}
    unclaimed = set(trade.confirmation_scenario[result.unclaimed_confirmations].tolist())
    assert unclaimed == {Scenario.NO_CLAIM, Scenario.WRONG_DATE, Scenario.WRONG_NUMBER}


def test_arrays_follow_the_documented_mix(arrays: SyntheticArrays) -> None:
    trade = arrays
    n = len(trade.claims)
    shares = {s: c / n for s, c in Counter(trade.claim_scenario.tolist()).items()}
    assert shares[Scenario.MISMATCH] == pytest.approx(DEFAULT_MIX.mismatch, abs=1e-4)
    assert shares[Scenario.WITHIN_TOLERANCE] == pytest.approx(DEFAULT_MIX.within_tolerance, abs=1e-4)
    assert shares[Scenario.LATE] == pytest.approx(DEFAULT_MIX.late, abs=1e-4)
    assert shares[Scenario.NO_CONFIRMATION] == pytest.approx(DEFAULT_MIX.no_confirmation, abs=1e-4)
    assert shares[Scenario.DUPLICATE_CLAIM] == pytest.approx(DEFAULT_MIX.duplicate_claim, abs=1e-4)
    conf_shares = Counter(trade.confirmation_scenario.tolist())
    assert conf_shares[Scenario.NO_CLAIM] / n == pytest.approx(
        DEFAULT_MIX.no_confirmation + DEFAULT_MIX.duplicate_claim
    )
    # late confirmations come after the 180-day window, the others well within it
    late = trade.confirmation_scenario == Scenario.LATE
    assert late.any()
    invoice_day = trade.confirmations.invoice_day
    assert np.all(trade.received_day[late] - invoice_day[late] > 180)
    assert np.all(trade.received_day[~late] - invoice_day[~late] <= 140)
    # both states sell, from and to every region; amounts plausible; sections I-XXI except XIX (arms)
    claims = trade.claims
    seller_countries = np.array([region_code(r)[:2] for r in range(90)])[claims.seller_region]
    buyer_countries = np.array([region_code(r)[:2] for r in range(90)])[claims.buyer_region]
    assert np.all(seller_countries != buyer_countries)
    assert 0.5 < np.mean(seller_countries == "RU") < 0.6
    regions = {
        region_code(int(r)) for r in np.unique(np.concatenate((claims.seller_region, claims.buyer_region)))
    }
    assert regions == ALL_REGIONS
    assert set(np.unique(claims.hs_section).tolist()) == set(range(1, 22)) - {19}
    roubles = claims.amount_minor / 100
    assert roubles.min() >= 10_000 and roubles.max() <= 500_000_000
    assert 1_000_000 < np.median(roubles) < 5_000_000
    assert np.all((claims.month >= 202507) & (claims.month <= 202607))
    for key in claims.seller_id[:50].tolist():
        tax_id = tax_id_of(key)
        assert inn.is_valid(tax_id) or unp.is_valid(tax_id)


def test_arrays_are_deterministic() -> None:
    a, b, c = trade_arrays(5_000, seed=9), trade_arrays(5_000, seed=9), trade_arrays(5_000, seed=10)
    for name in ("claim_id", "seller_id", "buyer_id", "invoice_no", "invoice_day", "amount_minor", "month"):
        assert np.array_equal(getattr(a.claims, name), getattr(b.claims, name))
    assert np.array_equal(a.confirmations.amount_minor, b.confirmations.amount_minor)
    assert not np.array_equal(a.claims.amount_minor, c.claims.amount_minor)


def test_rows_are_the_same_plan_and_reconcile_to_the_expected_outcome() -> None:
    trade = trade_rows(1_000, seed=2, per_ru_region=4, per_by_region=30)
    arrays = trade_arrays(1_000, seed=2, per_ru_region=4, per_by_region=30)
    claims = claims_from_rows(trade.claims)
    confirmations = confirmations_from_rows(trade.confirmations)
    result = reconcile(claims, confirmations)
    assert result.counts() == trade.expected == arrays.expected
    for name in (
        "seller_id",
        "buyer_id",
        "invoice_day",
        "amount_minor",
        "seller_region",
        "month",
        "hs_section",
    ):
        assert np.array_equal(getattr(claims, name), getattr(arrays.claims, name)), name
        assert np.array_equal(getattr(confirmations, name), getattr(arrays.confirmations, name)), name
    row = trade.claims[0]
    assert row["amount"] == row["amount"].quantize(Decimal("0.01")) and row["currency"] == "RUB"
    assert row["seller_country"] != row["buyer_country"]
    for r in trade.claims + trade.confirmations:
        for tax_id, country in (
            (r["seller_tax_id"], r["seller_country"]),
            (r["buyer_tax_id"], r["buyer_country"]),
        ):
            assert inn.is_valid(tax_id) if country == "RU" else unp.is_valid(tax_id)
    late = [r for r in trade.confirmations if r["scenario"] == "late"]
    assert late and all((r["received_date"] - r["shipment_date"]).days > 180 for r in late)
    assert {r["scenario"] for r in trade.claims} >= {
        "match",
        "mismatch",
        "no_confirmation",
        "duplicate_claim",
    }


@pytest.mark.parametrize("rows", [0, 1, 33])
def test_tiny_trades(rows: int) -> None:
    trade = trade_arrays(rows, seed=rows)
    assert len(trade.claims) == len(trade.confirmations) == rows
    assert reconcile(trade.claims, trade.confirmations).counts() == trade.expected
    assert len(trade_rows(rows, seed=rows).claims) == rows


def test_a_mix_that_leaves_nothing_to_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="too few"):
        trade_arrays(100, mix=Mix(no_confirmation=0.6, duplicate_claim=0.3))
