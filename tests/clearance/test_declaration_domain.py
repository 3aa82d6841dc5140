"""The clearance state machine and the transaction-value method, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tamga.clearance.domain import (
    Action,
    Basis,
    Cost,
    CostKind,
    PricedItem,
    Status,
    apportion,
    customs_values,
    next_status,
    ref_of,
    registration_number,
    released_automatically,
    valuation_errors,
)
from tamga.clearance.screening import Lane
from tamga.kit.errors import IllegalTransition

D = Decimal


def test_automatic_release_is_for_green_aeo_and_for_blue() -> None:
    assert released_automatically(Lane.GREEN, aeo=True)
    assert not released_automatically(Lane.GREEN, aeo=False)
    assert released_automatically(Lane.BLUE, aeo=False)
    assert not released_automatically(Lane.YELLOW, aeo=True)
    assert not released_automatically(Lane.RED, aeo=True)


def test_officer_path_through_the_states() -> None:
    s = next_status(Status.REGISTERED, Action.TAKE, Lane.RED)
    assert s is Status.IN_CONTROL
    s = next_status(s, Action.RECORD_RESULTS, Lane.RED)
    assert s is Status.CHECKED
    assert next_status(s, Action.RELEASE, Lane.RED) is Status.RELEASED
    assert next_status(s, Action.REFUSE, Lane.RED) is Status.REFUSED
    # a green declaration of a non-AEO needs no check: released straight from control
    assert next_status(Status.IN_CONTROL, Action.RELEASE, Lane.GREEN) is Status.RELEASED


@pytest.mark.parametrize(
    ("current", "action", "lane", "allowed"),
    [
        (Status.IN_CONTROL, Action.RELEASE, Lane.RED, ["checked"]),
        (Status.IN_CONTROL, Action.RELEASE, Lane.YELLOW, ["checked"]),
        (Status.REGISTERED, Action.RELEASE, Lane.GREEN, ["in_control", "checked"]),
        (Status.RELEASED, Action.REFUSE, Lane.GREEN, ["in_control", "checked"]),
        (Status.REFUSED, Action.TAKE, Lane.RED, ["registered"]),
        (Status.IN_CONTROL, Action.AUTO_RELEASE, Lane.GREEN, ["registered"]),
    ],
)
def test_illegal_transitions_name_the_states_that_allow_them(
    current: Status, action: Action, lane: Lane, allowed: list[str]
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_status(current, action, lane)
    assert caught.value.status == 409
    assert caught.value.extra["allowed_from"] == allowed
    assert caught.value.extra["current_status"] == current.value


def test_registration_number_and_its_url_form() -> None:
    at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    number = registration_number("10013010", at, 42)
    assert number == "10013010/050126/0000042"
    assert ref_of(number) == "10013010-050126-0000042"


def test_apportion_keeps_every_kopeck() -> None:
    shares = apportion(D("100.00"), [D(1), D(1), D(1)])
    assert shares == [D("33.34"), D("33.33"), D("33.33")]
    assert sum(shares) == D("100.00")
    assert apportion(D("10.00"), [D(3), D(1)]) == [D("7.50"), D("2.50")]
    with pytest.raises(ValueError):
        apportion(D(1), [D(0)])


def test_transaction_value_adds_costs_to_the_border_and_deducts_costs_after_it() -> None:
    # Two items invoiced in EUR at 90.5 RUB per EUR; freight to the border 1,000 USD at 80 RUB per USD,
    # apportioned by gross mass (3,000 kg and 1,000 kg); insurance 200 EUR apportioned by value;
    # inland carriage after the border 10,000 RUB contained in the price, deducted by gross mass.
    items = [
        PricedItem(1, D("10000.00"), "EUR", D("3000")),
        PricedItem(2, D("5000.00"), "EUR", D("1000")),
    ]
    costs = [
        Cost(CostKind.TRANSPORT, D("1000.00"), "USD", Basis.GROSS_MASS),
        Cost(CostKind.INSURANCE, D("200.00"), "EUR", Basis.VALUE),
        Cost(CostKind.TRANSPORT_AFTER_ARRIVAL, D("10000.00"), "RUB", Basis.GROSS_MASS),
    ]
    v = customs_values(items, costs, {"EUR": D("90.5"), "USD": D("80")}, "RUB")
    first, second = v.items
    assert first.price_national == D("905000.00") and second.price_national == D("452500.00")
    # freight 80,000.00 RUB: 60,000.00 and 20,000.00; insurance 18,100.00 RUB: 12,066.67 and 6,033.33;
    # deduction 10,000.00 RUB: 7,500.00 and 2,500.00
    assert [s.amount for s in first.shares] == [D("60000.00"), D("12066.67"), D("-7500.00")]
    assert [s.amount for s in second.shares] == [D("20000.00"), D("6033.33"), D("-2500.00")]
    assert first.customs_value == D("969566.67")
    assert second.customs_value == D("476033.33")
    assert v.total == D("1445600.00")  # 1,357,500 + 80,000 + 18,100 - 10,000
    assert [a.national for a in v.adjustments] == [D("80000.00"), D("18100.00"), D("10000.00")]
    assert [a.deducted for a in v.adjustments] == [False, False, True]


def test_a_currency_with_a_nominal_converts_per_unit() -> None:
    # NBRB quotes RUB per 100: 3.4567 BYN per 100 RUB is 0.034567 BYN per rouble
    v = customs_values([PricedItem(1, D("150000.00"), "RUB", D("10"))], [], {"RUB": D("0.034567")}, "BYN")
    assert v.items[0].customs_value == D("5185.05")  # 5,185.05 exactly


def test_a_deduction_larger_than_the_price_is_refused() -> None:
    items = [PricedItem(1, D("100.00"), "RUB", D("1"))]
    costs = [Cost(CostKind.SERVICES_AFTER_ARRIVAL, D("150.00"), "RUB", Basis.VALUE)]
    errors = valuation_errors(items, costs, {}, "RUB")
    assert [e.field for e in errors] == ["body.costs[0].amount"]
