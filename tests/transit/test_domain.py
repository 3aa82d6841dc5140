"""The transit rules without I/O: the state machine, time limits, the amount at stake, route length."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tamga.kit.errors import IllegalTransition
from tamga.transit.domain import (
    FINAL,
    Action,
    GoodsLine,
    Status,
    allowed_from,
    amount_at_stake,
    default_time_limit_days,
    legal_time_limit_days,
    next_status,
    route_length_km,
    time_limit_problem,
)

S, A = Status, Action

# The lifecycle as domain.py's docstring documents it, written out independently of TRANSITIONS:
# action -> (the states it is allowed from, in lifecycle order; the state it leads to).
DOCUMENTED: dict[Action, tuple[list[Status], Status | None]] = {
    A.ACCEPT: ([S.LODGED], S.ACCEPTED),
    A.REJECT: ([S.LODGED], S.REJECTED),
    A.INVALIDATE: ([S.LODGED, S.ACCEPTED], S.INVALIDATED),
    A.RELEASE: ([S.ACCEPTED], S.RELEASED),
    A.NOTIFY_CROSSING: ([S.RELEASED, S.EN_ROUTE], S.EN_ROUTE),
    A.RECORD_INCIDENT: ([S.RELEASED, S.EN_ROUTE], S.EN_ROUTE),
    A.OPEN_ENQUIRY: ([S.RELEASED, S.EN_ROUTE], S.ENQUIRY),
    A.ARRIVE: ([S.RELEASED, S.EN_ROUTE, S.ENQUIRY], S.ARRIVED),
    A.RECORD_UNLOADING: ([S.ARRIVED], None),  # unloaded or discrepancies, as the remarks say
    A.DISCHARGE: ([S.UNLOADED, S.DISCREPANCIES], S.DISCHARGED),
    A.RECOVER: ([S.ENQUIRY, S.DISCREPANCIES], S.RECOVERED),
}
CASES = [(state, action) for state in Status for action in Action]


def test_every_action_is_documented() -> None:
    assert set(DOCUMENTED) == set(Action)


@pytest.mark.parametrize(("state", "action"), CASES, ids=[f"{s.value}-{a.value}" for s, a in CASES])
def test_every_action_from_every_state(state: Status, action: Action) -> None:
    sources, target = DOCUMENTED[action]
    if state in sources:
        if target is None:
            assert next_status(state, action, discrepancies=False) is S.UNLOADED
            assert next_status(state, action, discrepancies=True) is S.DISCREPANCIES
            with pytest.raises(ValueError):
                next_status(state, action)
        else:
            assert next_status(state, action) is target
            assert next_status(state, action, discrepancies=True) is target  # the flag is irrelevant
        return
    with pytest.raises(IllegalTransition) as caught:
        next_status(state, action, discrepancies=False)
    err = caught.value
    assert err.status == 409
    assert err.extra["allowed_from"] == [s.value for s in sources]
    assert err.extra["current_status"] == state.value
    assert state.value in err.detail
    assert all(s.value in err.detail for s in sources)
    problem = err.problem()
    assert problem["allowed_from"] == [s.value for s in sources]
    assert problem["type"].endswith("/illegal-transition")


def test_allowed_from_is_in_lifecycle_order() -> None:
    for action, (sources, _) in DOCUMENTED.items():
        assert allowed_from(action) == sources


def test_final_states_allow_nothing() -> None:
    assert {S.REJECTED, S.INVALIDATED, S.DISCHARGED, S.RECOVERED} == FINAL
    for state in FINAL:
        for action in Action:
            with pytest.raises(IllegalTransition):
                next_status(state, action, discrepancies=False)


# --- time limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("km", "norm", "days"),
    [
        ("0", "500", 1),  # at least one day
        ("1", "500", 1),
        ("500", "500", 1),
        ("500.001", "500", 2),
        ("1000", "500", 2),
        ("1050.5", "500", 3),
        ("9000", "350", 26),
    ],
)
def test_default_time_limit_days(km: str, norm: str, days: int) -> None:
    assert default_time_limit_days(Decimal(km), Decimal(norm)) == days


@pytest.mark.parametrize(
    ("km", "days"),
    [
        ("0", 1),
        ("10", 1),  # 0.15 day
        ("66.667", 2),  # 1.00001 days
        ("1050", 16),  # 15.75 days
        ("2000", 30),  # a month
        ("2000.001", 31),
        ("7000", 105),
    ],
)
def test_legal_time_limit_days_is_2000_km_a_month(km: str, days: int) -> None:
    assert legal_time_limit_days(Decimal(km), Decimal(2000)) == days


RELEASED_AT = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)


def test_time_limit_problem_in_the_past_or_now() -> None:
    for requested in (RELEASED_AT - timedelta(days=400), RELEASED_AT - timedelta(seconds=1), RELEASED_AT):
        problem = time_limit_problem(requested, RELEASED_AT, Decimal(1050), Decimal(2000))
        assert problem is not None and "future" in problem


def test_time_limit_problem_beyond_the_legal_ceiling() -> None:
    ceiling = RELEASED_AT + timedelta(days=16)  # 1,050 km at 2,000 km per month
    assert time_limit_problem(ceiling, RELEASED_AT, Decimal(1050), Decimal(2000)) is None
    beyond = ceiling + timedelta(microseconds=1)
    problem = time_limit_problem(beyond, RELEASED_AT, Decimal(1050), Decimal(2000))
    assert problem is not None
    assert ceiling.isoformat() in problem and "1050" in problem
    far = time_limit_problem(RELEASED_AT + timedelta(days=365), RELEASED_AT, Decimal(1050), Decimal(2000))
    assert far is not None


def test_time_limit_within_the_ceiling_stands() -> None:
    for delta in (timedelta(seconds=1), timedelta(days=3), timedelta(days=15, hours=23)):
        assert time_limit_problem(RELEASED_AT + delta, RELEASED_AT, Decimal(1050), Decimal(2000)) is None


def test_short_route_still_gets_a_day() -> None:
    tomorrow = RELEASED_AT + timedelta(days=1)
    assert time_limit_problem(tomorrow, RELEASED_AT, Decimal(0), Decimal(2000)) is None
    later = tomorrow + timedelta(seconds=1)
    assert time_limit_problem(later, RELEASED_AT, Decimal(0), Decimal(2000)) is not None


# --- the amount at stake --------------------------------------------------------------------------

ON = date(2025, 3, 10)
FAKE_RATES = {
    ("CBR", "EUR"): Decimal("98.7654"),
    ("CBR", "USD"): Decimal("91.2345"),
    ("CBR", "CNY"): Decimal("10.01"),
    ("NBRB", "RUB"): Decimal("0.035"),
    ("NBRB", "EUR"): Decimal("3.4567"),
}
FAKE_DUTIES = {"84": Decimal(0), "08": Decimal("12.5"), "61": Decimal(5), "94": Decimal("5.3")}
calls: list[tuple[str, str, date]] = []


def fake_rate(authority: str, currency: str, on: date) -> Decimal:
    calls.append((authority, currency, on))
    return FAKE_RATES[(authority, currency)]


def fake_duty(hs_code: str) -> Decimal:
    return FAKE_DUTIES[hs_code[:2]]


def test_amount_at_stake_to_the_kopeck() -> None:
    """Worked by hand, each figure rounded half-up to kopecks before it is used further.

    1. 25,000.00 EUR x 98.7654 = 2,469,135.00 RUB; duty 0% = 0.00; VAT 20% = 493,827.00
    2.  3,000.00 USD x 91.2345 =   273,703.50 RUB; duty 12.5% = 34,212.9375 -> 34,212.94;
        VAT 20% of 307,916.44 = 61,583.288 -> 61,583.29
    3.  1,234.56 RUB (no conversion);           duty 5.3% = 65.43168 -> 65.43;
        VAT 20% of 1,299.99 = 259.998 -> 260.00
    4.     10.00 CNY x 10.01 = 100.10 RUB;      duty 5% = 5.005 -> 5.01 (half-up, not to even);
        VAT 20% of 105.11 = 21.022 -> 21.02
    5.      0.01 EUR x 98.7654 = 0.987654 -> 0.99; duty 0; VAT 0.198 -> 0.20
    Total: 493,827.00 + 95,796.23 + 325.43 + 26.03 + 0.20 = 589,974.89
    """
    calls.clear()
    lines = [
        GoodsLine("8471300000", Decimal("25000.00"), "EUR"),
        GoodsLine("0808108000", Decimal("3000.00"), "USD"),
        GoodsLine("9403600000", Decimal("1234.56"), "RUB"),
        GoodsLine("6109100000", Decimal("10.00"), "CNY"),
        GoodsLine("847130", Decimal("0.01"), "EUR"),
    ]
    total, trace = amount_at_stake(lines, "RU", ON, fake_duty, Decimal(20), fake_rate)
    assert total == Decimal("589974.89")
    assert [t.value_national for t in trace] == [
        Decimal("2469135.00"),
        Decimal("273703.50"),
        Decimal("1234.56"),
        Decimal("100.10"),
        Decimal("0.99"),
    ]
    assert [t.duty for t in trace] == [
        Decimal("0.00"),
        Decimal("34212.94"),
        Decimal("65.43"),
        Decimal("5.01"),
        Decimal("0.00"),
    ]
    assert [t.vat for t in trace] == [
        Decimal("493827.00"),
        Decimal("61583.29"),
        Decimal("260.00"),
        Decimal("21.02"),
        Decimal("0.20"),
    ]
    assert [t.duty_percent for t in trace] == [
        Decimal(0),
        Decimal("12.5"),
        Decimal("5.3"),
        Decimal(5),
        Decimal(0),
    ]
    assert all(t.vat_percent == 20 for t in trace)
    assert total == sum(t.duty + t.vat for t in trace)
    # the Bank of Russia's rate on the given day, never for roubles
    assert ("CBR", "RUB", ON) not in calls
    assert set(calls) == {("CBR", "EUR", ON), ("CBR", "USD", ON), ("CBR", "CNY", ON)}


def test_amount_at_stake_for_belarus_uses_the_nbrb_and_byn() -> None:
    """1,000.00 RUB x 0.035 = 35.00 BYN; duty 12.5% = 4.375 -> 4.38; VAT 20% of 39.38 = 7.876 -> 7.88.
    100.00 EUR x 3.4567 = 345.67 BYN; duty 0; VAT 69.134 -> 69.13. Total 4.38 + 7.88 + 69.13 = 81.39."""
    calls.clear()
    lines = [GoodsLine("0808108000", Decimal("1000.00"), "RUB"), GoodsLine("847130", Decimal(100), "EUR")]
    total, trace = amount_at_stake(lines, "BY", ON, fake_duty, Decimal(20), fake_rate)
    assert total == Decimal("81.39")
    assert [t.value_national for t in trace] == [Decimal("35.00"), Decimal("345.67")]
    assert set(calls) == {("NBRB", "RUB", ON), ("NBRB", "EUR", ON)}


def test_amount_at_stake_of_nothing_is_zero() -> None:
    total, trace = amount_at_stake([], "RU", ON, fake_duty, Decimal(20), fake_rate)
    assert total == 0 and trace == []


# --- route length ---------------------------------------------------------------------------------

BREST = (52.0976, 23.7341)
MINSK = (53.9045, 27.5615)
SMOLENSK = (54.7826, 32.0453)
MOSCOW = (55.7558, 37.6173)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def test_route_length_brest_to_moscow_is_plausible() -> None:
    direct = route_length_km([BREST, MOSCOW])
    assert Decimal(990) < direct < Decimal(1020)  # Brest - Moscow is about 1,000 km as the crow flies
    assert abs(float(direct) - haversine_km(BREST, MOSCOW)) / float(direct) < 0.005  # ellipsoid vs sphere
    assert direct.as_tuple().exponent >= -3
    along_m1 = route_length_km([BREST, MINSK, SMOLENSK, MOSCOW])
    assert direct < along_m1 < Decimal(1100)
    legs = sum(
        (route_length_km(leg) for leg in ([BREST, MINSK], [MINSK, SMOLENSK], [SMOLENSK, MOSCOW])), Decimal(0)
    )
    assert abs(along_m1 - legs) <= Decimal("0.003")  # the length of a route is the sum of its legs
    assert route_length_km([MOSCOW, BREST]) == direct


def test_route_of_fewer_than_two_points_has_no_length() -> None:
    assert route_length_km([]) == 0
    assert route_length_km([BREST]) == 0
    assert route_length_km([BREST, BREST]) == 0
