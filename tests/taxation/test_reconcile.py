"""The vectorised reconciliation against the per-row reference, the tolerance edges, the duplicate rule, the
tax gap's totals and the drill-down."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tamga.taxation import reconcile as engine
from tamga.taxation.reconcile import (
    MAX_AMOUNT_MINOR,
    Claims,
    Confirmations,
    Reconciliation,
    drill_down,
    outcome_ids,
    reconcile,
    reconcile_reference,
    tax_gap,
)


def documents(kind: type[Any], rows: list[dict[str, int]]) -> Any:
    id_column = "claim_id" if kind is Claims else "confirmation_id"
    columns: dict[str, Any] = {
        name: np.array([row[name] for row in rows], dtype=np.int64)
        for name in (id_column, *engine.DOCUMENT_DTYPES)
    }
    return kind(**columns)


def row(ident: int, key: int = 0, amount: int = 10_000, **extra: int) -> dict[str, int]:
    base = {
        "claim_id": ident,
        "confirmation_id": ident,
        "seller_id": 10**15 + 7700000001 + key,
        "buyer_id": 2 * 10**15 + 100000001,
        "invoice_no": 1000 + key,
        "invoice_day": 20_500,
        "amount_minor": amount,
        "seller_region": 50,
        "buyer_region": 1,
        "month": 202601,
        "hs_section": 16,
    }
    return base | extra


def as_lists(result: Reconciliation) -> tuple[list[Any], ...]:
    return (
        list(zip(result.matched_claims.tolist(), result.matched_confirmations.tolist(), strict=True)),
        list(
            zip(
                result.mismatched_claims.tolist(),
                result.mismatched_confirmations.tolist(),
                result.mismatched_difference.tolist(),
                strict=True,
            )
        ),
        result.unconfirmed_claims.tolist(),
        result.unclaimed_confirmations.tolist(),
    )


# -- random inputs against the reference

AMOUNTS = st.one_of(
    st.sampled_from([0, 1, 99, 100, 101, 199, 200, 9_899, 9_900, 9_999, 10_000, 10_001, 10_100, 10_101]),
    st.integers(0, 10**9),
    st.integers(MAX_AMOUNT_MINOR - 10**16, MAX_AMOUNT_MINOR),
)


@st.composite
def sides(draw: st.DrawFn) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    """Claims and confirmations over a few keys, so that duplicates and near-equal amounts are common."""
    keys = draw(
        st.lists(
            st.tuples(
                st.integers(0, 2),
                st.integers(0, 1),
                st.integers(-(2**63), 2**63 - 1),
                st.integers(-3, 3),
            ),
            min_size=1,
            max_size=6,
        )
    )

    def side(tag: str) -> list[dict[str, int]]:
        rows = []
        for i in range(draw(st.integers(0, 14))):
            seller, buyer, invoice, day = draw(st.sampled_from(keys))
            amount = draw(AMOUNTS)
            if rows and draw(st.booleans()):
                # a neighbour of an amount already drawn: the tolerance edges, to the kopeck
                amount = min(MAX_AMOUNT_MINOR, max(0, rows[-1]["amount_minor"] + draw(st.integers(-2, 2))))
            rows.append(
                row(i, amount=amount)
                | {"seller_id": seller, "buyer_id": buyer, "invoice_no": invoice, "invoice_day": day}
            )
        return rows

    return side("claims"), side("confirmations")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=sides(),
    tolerance_minor=st.sampled_from([0, 1, 100, 10_000]),
    tolerance_ratio=st.sampled_from([0.0, 0.01, 0.015, 0.5]),
    hash_bits=st.sampled_from([64, 3, 1]),
)
def test_reconcile_agrees_with_the_reference(
    data: tuple[list[dict[str, int]], list[dict[str, int]]],
    tolerance_minor: int,
    tolerance_ratio: float,
    hash_bits: int,
) -> None:
    claim_rows, confirmation_rows = data
    claims, confirmations = documents(Claims, claim_rows), documents(Confirmations, confirmation_rows)
    # few hash bits force collisions: the engine must never trust the hash alone
    saved = engine._HASH_BITS
    engine._HASH_BITS = hash_bits
    try:
        result = reconcile(
            claims, confirmations, tolerance_minor=tolerance_minor, tolerance_ratio=tolerance_ratio
        )
    finally:
        engine._HASH_BITS = saved
    expected = reconcile_reference(
        claim_rows, confirmation_rows, tolerance_minor=tolerance_minor, tolerance_ratio=tolerance_ratio
    )
    assert as_lists(result) == (
        expected.matched,
        expected.mismatched,
        expected.unconfirmed,
        expected.unclaimed,
    )
    counts = result.counts()
    assert counts["matched"] + counts["mismatched"] + counts["unconfirmed"] == len(claim_rows)
    assert counts["matched"] + counts["mismatched"] + counts["unclaimed"] == len(confirmation_rows)


@pytest.mark.parametrize("hash_bits", [1, 2, 3, 5])
def test_hash_collisions_never_pair_different_keys(hash_bits: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # with a few bits of hash, most runs of equal hash mix keys: only the full keys may decide
    monkeypatch.setattr(engine, "_HASH_BITS", hash_bits)
    for seed in range(150):
        rng = np.random.default_rng(seed)
        keys = rng.integers(0, 40, int(rng.integers(1, 25)))

        def side(size: int, rng: np.random.Generator = rng, keys: np.ndarray = keys) -> list[dict[str, int]]:
            amounts = rng.choice([0, 99, 100, 101, 9_899, 9_900, 10_000, 10_100, 10_101, 12_345], size)
            return [
                row(i, key=int(k), amount=int(a), invoice_day=20_500 + int(k) % 3)
                for i, (k, a) in enumerate(zip(rng.choice(keys, size), amounts, strict=True))
            ]

        claim_rows = side(int(rng.integers(0, 30)))
        confirmation_rows = side(int(rng.integers(0, 30)))
        result = reconcile(documents(Claims, claim_rows), documents(Confirmations, confirmation_rows))
        expected = reconcile_reference(claim_rows, confirmation_rows)
        assert as_lists(result) == (
            expected.matched,
            expected.mismatched,
            expected.unconfirmed,
            expected.unclaimed,
        )


def test_larger_random_sides_agree_with_the_reference() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    keys = rng.integers(0, 6_000, (2, n))

    def side(kind: type[Any], picks: np.ndarray) -> tuple[Any, list[dict[str, int]]]:
        rows = [
            row(i, key=int(k), amount=int(a))
            for i, (k, a) in enumerate(zip(picks, rng.integers(9_800, 10_300, n), strict=True))
        ]
        return documents(kind, rows), rows

    claims, claim_rows = side(Claims, keys[0])
    confirmations, confirmation_rows = side(Confirmations, keys[1])
    expected = reconcile_reference(claim_rows, confirmation_rows)
    result = reconcile(claims, confirmations)
    assert as_lists(result) == (
        expected.matched,
        expected.mismatched,
        expected.unconfirmed,
        expected.unclaimed,
    )
    assert min(len(expected.matched), len(expected.mismatched), len(expected.unconfirmed)) > 100


# -- the rule, case by case


@pytest.mark.parametrize(
    ("confirmed", "difference", "matched"),
    [
        (10_000, 100, True),  # 1 % of 100 roubles = 1 rouble: the floor and the share meet
        (10_000, 101, False),
        (10_000, -100, True),
        (10_000, -101, False),
        (12_345, 123, True),  # 1 % = 123.45 kopecks, floored to 123
        (12_345, 124, False),
        (500, 100, True),  # 1 % is 5 kopecks: the rouble floor applies
        (500, 101, False),
        (MAX_AMOUNT_MINOR, -(10**15), True),  # no overflow at the largest amount
        (MAX_AMOUNT_MINOR, -(10**15) - 1, False),
    ],
)
def test_tolerance_edges_to_the_kopeck(confirmed: int, difference: int, matched: bool) -> None:
    claims = documents(Claims, [row(1, amount=confirmed + difference)])
    confirmations = documents(Confirmations, [row(2, amount=confirmed)])
    result = reconcile(claims, confirmations)
    assert result.counts() == {
        "matched": int(matched),
        "mismatched": int(not matched),
        "unconfirmed": 0,
        "unclaimed": 0,
    }
    if not matched:
        assert result.mismatched_difference.tolist() == [difference]


def test_equal_amounts_pair_first_then_by_amount_order() -> None:
    # a claim filed twice (100.00 and 200.00) for one confirmed 200.00: the equal amounts pair
    claims = documents(Claims, [row(1, amount=10_000), row(2, amount=20_000)])
    confirmations = documents(Confirmations, [row(9, amount=20_000)])
    result = reconcile(claims, confirmations)
    assert as_lists(result) == ([(1, 0)], [], [0], [])
    # no equal amount: the smallest claim pairs with the smallest confirmation, the rest stays unpaired
    claims = documents(Claims, [row(1, amount=30_000), row(2, amount=10_000), row(3, amount=20_000)])
    confirmations = documents(Confirmations, [row(8, amount=25_000), row(9, amount=15_000)])
    result = reconcile(claims, confirmations)
    assert as_lists(result) == ([], [(1, 1, -5_000), (2, 0, -5_000)], [0], [])


def test_outcome_ids_name_the_documents() -> None:
    claims = documents(Claims, [row(101, amount=10_000), row(102, key=1), row(103, key=2, amount=10_000)])
    confirmations = documents(
        Confirmations, [row(201, key=2, amount=20_000), row(202, key=3), row(203, amount=10_050)]
    )
    ids = outcome_ids(reconcile(claims, confirmations), claims, confirmations)
    assert ids.matched_claim_ids.tolist() == [101] and ids.matched_confirmation_ids.tolist() == [203]
    assert ids.mismatched_claim_ids.tolist() == [103] and ids.mismatched_confirmation_ids.tolist() == [201]
    assert ids.mismatched_difference.tolist() == [-10_000]
    assert ids.unconfirmed_claim_ids.tolist() == [102]
    assert ids.unclaimed_confirmation_ids.tolist() == [202]


def test_a_different_date_or_number_does_not_pair() -> None:
    claims = documents(Claims, [row(1), row(2, key=1)])
    confirmations = documents(Confirmations, [row(1, invoice_day=20_501), row(2, key=1, invoice_no=5)])
    assert reconcile(claims, confirmations).counts() == {
        "matched": 0,
        "mismatched": 0,
        "unconfirmed": 2,
        "unclaimed": 2,
    }


def test_empty_sides() -> None:
    claims = documents(Claims, [row(1), row(2, key=1)])
    none = Confirmations.empty()
    assert as_lists(reconcile(claims, none)) == ([], [], [0, 1], [])
    assert as_lists(reconcile(Claims.empty(), none)) == ([], [], [], [])


def test_columns_are_checked() -> None:
    good = documents(Claims, [row(1)])
    columns: dict[str, Any] = {name: getattr(good, name) for name in ("claim_id", *engine.DOCUMENT_DTYPES)}
    with pytest.raises(ValueError, match="rows"):
        Claims(**(columns | {"buyer_id": np.array([1, 2])}))
    with pytest.raises(ValueError, match="amount_minor"):
        Claims(**(columns | {"amount_minor": np.array([-1])}))
    with pytest.raises(ValueError, match="does not fit"):
        Claims(**(columns | {"seller_region": np.array([40_000])}))
    with pytest.raises(TypeError, match="integers"):
        Claims(**(columns | {"month": np.array([2026.5])}))
    with pytest.raises(ValueError, match="tolerance_ratio"):
        reconcile(good, Confirmations.empty(), tolerance_ratio=1.5)


# -- the tax gap and the drill-down


def mixed_sides(seed: int) -> tuple[Claims, Confirmations, list[dict[str, int]], list[dict[str, int]]]:
    rng = np.random.default_rng(seed)
    n = 3_000

    def side(kind: type[Any]) -> tuple[Any, list[dict[str, int]]]:
        rows = [
            row(
                i,
                key=int(rng.integers(0, 1_500)),
                amount=int(rng.integers(9_000, 11_000)),
                seller_region=int(rng.integers(0, 5)),
                buyer_region=int(rng.integers(83, 90)),
                month=int(rng.choice([202512, 202601, 202602])),
                hs_section=int(rng.integers(1, 22)),
            )
            for i in range(n)
        ]
        return documents(kind, rows), rows

    claims, claim_rows = side(Claims)
    confirmations, confirmation_rows = side(Confirmations)
    return claims, confirmations, claim_rows, confirmation_rows


@pytest.mark.parametrize("by", ["region_pair", "month", "hs_section"])
def test_tax_gap_totals_add_up(by: Any) -> None:
    claims, confirmations, claim_rows, confirmation_rows = mixed_sides(3)
    result = reconcile(claims, confirmations)
    table = tax_gap(result, claims, confirmations, by=by)
    names = table.key_names

    def key(r: dict[str, int]) -> tuple[int, ...]:
        return tuple(r[name] for name in names)

    # the same totals, one document at a time from the reference's outcome
    ref = reconcile_reference(claim_rows, confirmation_rows)
    expected: dict[tuple[int, ...], Counter[str]] = {}

    def add(k: tuple[int, ...], **amounts: int) -> None:
        expected.setdefault(k, Counter()).update(amounts)

    for i, j in ref.matched:
        c, f = claim_rows[i], confirmation_rows[j]
        add(key(c), matched_count=1, matched_claimed=c["amount_minor"], matched_confirmed=f["amount_minor"])
    for i, j, difference in ref.mismatched:
        c, f = claim_rows[i], confirmation_rows[j]
        add(
            key(c),
            mismatched_count=1,
            mismatched_claimed=c["amount_minor"],
            mismatched_confirmed=f["amount_minor"],
            unsupported_amount=max(difference, 0),
        )
    for i in ref.unconfirmed:
        c = claim_rows[i]
        add(
            key(c),
            unconfirmed_count=1,
            unconfirmed_amount=c["amount_minor"],
            unsupported_amount=c["amount_minor"],
        )
    for j in ref.unclaimed:
        f = confirmation_rows[j]
        add(key(f), unclaimed_count=1, unclaimed_amount=f["amount_minor"])
    got = {key(r): {m: r[m] for m in table.MEASURES if r[m]} for r in table.rows()}
    assert got == {k: dict(v) for k, v in expected.items()}

    totals = table.totals()
    counts = result.counts()
    assert totals["matched_count"] + totals["mismatched_count"] + totals["unconfirmed_count"] == len(claims)
    assert totals["matched_count"] + totals["mismatched_count"] + totals["unclaimed_count"] == len(
        confirmations
    )
    assert totals["unconfirmed_count"] == counts["unconfirmed"]
    claimed = totals["matched_claimed"] + totals["mismatched_claimed"] + totals["unconfirmed_amount"]
    assert claimed == int(claims.amount_minor.sum())
    confirmed = totals["matched_confirmed"] + totals["mismatched_confirmed"] + totals["unclaimed_amount"]
    assert confirmed == int(confirmations.amount_minor.sum())


def test_tax_gap_sums_large_amounts_exactly() -> None:
    # sums far beyond 2^53 (where a float would round) but inside int64: the limbs keep them exact
    n = 5_000
    rows = [row(i, key=i, amount=10**15 + 7 * i + 1) for i in range(n)]
    claims = documents(Claims, rows)
    result = reconcile(claims, Confirmations.empty())
    table = tax_gap(result, claims, Confirmations.empty(), by="month")
    assert table.unconfirmed_amount.tolist() == [sum(10**15 + 7 * i + 1 for i in range(n))]


def test_drill_down_gives_the_documents_of_a_cell() -> None:
    claims, confirmations, claim_rows, confirmation_rows = mixed_sides(5)
    result = reconcile(claims, confirmations)
    table = tax_gap(result, claims, confirmations, by="region_pair")
    for r in table.rows()[:6]:
        cell = (r["seller_region"], r["buyer_region"])
        unconfirmed = drill_down(
            result, claims, confirmations, by="region_pair", key=cell, category="unconfirmed"
        )
        assert unconfirmed.claim_ids.size == r["unconfirmed_count"]
        assert int(unconfirmed.claimed.sum()) == r["unconfirmed_amount"]
        assert unconfirmed.confirmation_ids.size == 0
        for claim_id in unconfirmed.claim_ids.tolist():
            c = claim_rows[claim_id]
            assert (c["seller_region"], c["buyer_region"]) == cell
        mismatched = drill_down(
            result, claims, confirmations, by="region_pair", key=cell, category="mismatched"
        )
        assert mismatched.claim_ids.size == mismatched.confirmation_ids.size == r["mismatched_count"]
        assert int(mismatched.confirmed.sum()) == r["mismatched_confirmed"]
        unclaimed = drill_down(
            result, claims, confirmations, by="region_pair", key=cell, category="unclaimed"
        )
        assert int(unclaimed.confirmed.sum()) == r["unclaimed_amount"]
    matched = drill_down(result, claims, confirmations, by="month", key=202601, category="matched")
    for claim_id, confirmation_id in zip(
        matched.claim_ids.tolist(), matched.confirmation_ids.tolist(), strict=True
    ):
        assert claim_rows[claim_id]["invoice_no"] == confirmation_rows[confirmation_id]["invoice_no"]
        assert claim_rows[claim_id]["month"] == 202601
    with pytest.raises(ValueError, match="part"):
        drill_down(result, claims, confirmations, by="region_pair", key=3, category="matched")
