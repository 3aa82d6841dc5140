"""The risk engine without a database: the profile language, the compiled engine against the
straightforward reference on random profiles and declarations, random selection, valuation outliers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.clearance.test_risk_facts import facts, item

from tamga.clearance import risk
from tamga.clearance.screening import DeclarantHistory, Lane, ScreenedItem, ScreeningFacts
from tamga.kit.errors import ValidationFailed

KEY = b"k" * 32
SET = "rs-test"
REFS = risk.ReferenceValues("test", {"851713": 800.0, "610910": 15.0, "220830": 10.0, "950300": 8.0})
RATES = risk.SelectionRates(
    rates={Lane.RED: 0.01, Lane.YELLOW: 0.02, Lane.BLUE: 0.03}, aeo_rates={Lane.BLUE: 0.01}
)

CODES = [
    "8517130000",
    "8517620000",
    "8517139900",
    "8471300000",
    "6109100000",
    "6203420000",
    "2208300000",
    "9503000000",
    "0101210000",
    "851713",  # not 10 digits: matches no prefix, in both engines
    "851713000",
    "85171300001",
]
COUNTRIES = ["CN", "VN", "DE", "TR", "BY", "RU", "KZ", "PL"]
NUMBERS = ["0", "1", "3", "15", "40", "80", "0.33", "1.5", "800", "1500", "8000", "1000000"]
OFFICES = ["10013010", "06611", "09131", "10113090"]


def profile(code: str, conditions: list[dict[str, Any]], lane: str = "yellow", **kw: Any) -> risk.Profile:
    return risk.Profile(code, 1, Lane(lane), "measure", risk.parse_conditions(conditions), **kw)


# ---------------------------------------------------------------------------------------------------------
# The language
# ---------------------------------------------------------------------------------------------------------


def test_conditions_are_normalised() -> None:
    conditions = risk.parse_conditions(
        [
            {"field": "hs_code", "op": "starts_with", "value": ["8517", "85", "8471"]},
            {"field": "origin", "op": "in", "value": ["VN", "CN", "CN"]},
            {"field": "value_per_kg_usd", "op": ">=", "value": 1.50},
            {"field": "value_per_kg_usd", "op": "<", "value": "40.00"},
        ]
    )
    assert conditions[0].value == ("8471", "85")  # 8517 lies inside 85, so it adds nothing
    assert conditions[1].value == ("CN", "VN")
    assert conditions[2].value == Decimal("1.5") and conditions[3].value == Decimal("40")


def test_only_nested_prefixes_are_dropped() -> None:
    (c,) = risk.parse_conditions([{"field": "hs_code", "op": "starts_with", "value": ["8517", "84", "8471"]}])
    assert c.value == ("84", "8517")


@pytest.mark.parametrize(
    ("condition", "field", "reason"),
    [
        ({"field": "colour", "op": "eq", "value": 1}, "body.conditions[0].field", "unknown field 'colour'"),
        (
            {"field": "origin", "op": "<", "value": ["CN"]},
            "body.conditions[0].op",
            "not an operator of origin",
        ),
        ({"field": "origin", "op": "in", "value": []}, "body.conditions[0].value", "non-empty list"),
        (
            {"field": "hs_code", "op": "starts_with", "value": ["85a"]},
            "body.conditions[0].value[0]",
            "HS code",
        ),
        ({"field": "value_per_kg_usd", "op": "<", "value": -1}, "body.conditions[0].value", "between 0"),
        ({"field": "value_per_kg_usd", "op": "<", "value": True}, "body.conditions[0].value", "number"),
        ({"field": "value_per_kg_usd", "op": "<", "value": "NaN"}, "body.conditions[0].value", "finite"),
        ({"field": "declarant_aeo", "op": "eq", "value": "yes"}, "body.conditions[0].value", "true or false"),
        (
            {"field": "transit_alarms", "op": "any_in", "value": ["fire"]},
            "body.conditions[0].value[0]",
            "rule",
        ),
        ({"field": "state", "op": "in", "value": ["KZ"]}, "body.conditions[0].value[0]", '"RU" or "BY"'),
        ({"field": "direction", "op": "eq"}, "body.conditions[0].value", "missing"),
        ({"field": "origin", "op": "in", "value": ["CN"], "x": 1}, "body.conditions[0].x", "unknown key"),
        ("origin", "body.conditions[0]", "must be an object"),
    ],
)
def test_a_bad_condition_names_its_part(condition: Any, field: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        risk.parse_conditions([condition])
    errors = {e.field: e.reason for e in caught.value.errors}
    assert field in errors and reason in errors[field], errors


def test_a_field_is_tested_once_except_for_a_range() -> None:
    risk.parse_conditions(
        [
            {"field": "net_mass_kg", "op": ">", "value": 1},
            {"field": "net_mass_kg", "op": "<=", "value": 5},
        ]
    )
    with pytest.raises(ValidationFailed) as caught:
        risk.parse_conditions(
            [
                {"field": "origin", "op": "in", "value": ["CN"]},
                {"field": "origin", "op": "not_in", "value": ["VN"]},
            ]
        )
    assert caught.value.errors[0].field == "body.conditions[1].field"
    with pytest.raises(ValidationFailed):
        risk.parse_conditions([])


def test_green_and_unknown_lanes_are_refused() -> None:
    assert risk.parse_lane("red") is Lane.RED
    for bad in ("green", "purple", None):
        with pytest.raises(ValidationFailed) as caught:
            risk.parse_lane(bad)
        assert caught.value.errors[0].field == "body.lane"


# ---------------------------------------------------------------------------------------------------------
# Screening and the decision
# ---------------------------------------------------------------------------------------------------------


def both(profiles: list[risk.Profile], batch: list[ScreeningFacts]) -> list[list[Any]]:
    compiled = risk.compile_profiles(profiles, REFS)
    fast = risk.screen_compiled(compiled, batch, key=KEY, set_version=SET)
    slow = [
        risk.screen_straightforward(profiles, f, references=REFS, key=KEY, set_version=SET) for f in batch
    ]
    key = lambda h: (h.item_number or 0, h.profile_code)  # noqa: E731
    assert [sorted(h, key=key) for h in fast] == [sorted(h, key=key) for h in slow]
    return [sorted(h, key=key) for h in fast]


def test_phones_from_china_below_x_per_kg_hit_with_the_reason() -> None:
    p = profile(
        "PHONES",
        [
            {"field": "hs_code", "op": "starts_with", "value": ["8517"]},
            {"field": "origin", "op": "in", "value": ["CN"]},
            {"field": "value_per_kg_usd", "op": "<", "value": "40"},
        ],
    )
    f = facts(
        item(1, "8517130000", "CN", mass="10", value_usd="8000"),
        item(2, "8517130000", "CN", mass="100", value_usd="1500"),
        item(3, "8517130000", "VN", mass="100", value_usd="1500"),
    )
    (hits,) = both([p], [f])
    assert [(h.item_number, h.lane) for h in hits] == [(2, Lane.YELLOW)]
    assert (
        hits[0].reason == "hs_code 8517130000 starts with {8517}; origin CN in {CN}; value_per_kg_usd 15 < 40"
    )
    decision = risk.decide(f, hits, key=KEY, set_version=SET, rates=RATES)
    assert decision.lane in (Lane.YELLOW, Lane.RED) and decision.hits == tuple(hits)


def test_declaration_profiles_hit_once_and_the_highest_lane_wins() -> None:
    newcomer = profile(
        "NEW",
        [
            {"field": "declarant_declarations", "op": "<", "value": 3},
            {"field": "declarant_aeo", "op": "eq", "value": False},
        ],
    )
    seal = profile("SEAL", [{"field": "transit_alarms", "op": "any_in", "value": ["seal_opened"]}], "red")
    f = facts(item(1), item(2), aeo=False, declarations=0, transit_alarms=("seal_opened", "late"))
    (hits,) = both([newcomer, seal], [f])
    assert [(h.profile_code, h.item_number) for h in hits] == [("NEW", None), ("SEAL", None)]
    assert hits[1].reason == "transit_alarms {late, seal_opened} any in {seal_opened}"
    assert risk.decide(f, hits, key=KEY, set_version=SET, rates=RATES).lane is Lane.RED


def test_random_selection_is_reproducible_and_near_its_rate() -> None:
    refs = [f"10013010/271126/{n:07d}" for n in range(20_000)]
    lanes = [risk.random_lane(KEY, r, SET, RATES.rates) for r in refs]
    assert lanes == [risk.random_lane(KEY, r, SET, RATES.rates) for r in refs]
    share = {lane: lanes.count(lane) / len(refs) for lane in (Lane.RED, Lane.YELLOW, Lane.BLUE)}
    assert abs(share[Lane.RED] - 0.01) < 0.004 and abs(share[Lane.YELLOW] - 0.02) < 0.005
    assert abs(share[Lane.BLUE] - 0.03) < 0.006
    other = [risk.random_lane(KEY, r, "rs-other", RATES.rates) for r in refs]
    assert other != lanes  # another profile set version draws afresh
    # an AEO is randomly selected only for post-clearance audit
    assert {risk.random_lane(KEY, r, SET, RATES.aeo_rates) for r in refs} == {None, Lane.BLUE}


def test_random_selection_only_raises_the_lane() -> None:
    f = facts()
    selected = next(
        r for r in (f"R{n}" for n in range(10_000)) if risk.random_lane(KEY, r, SET, RATES.rates) is Lane.BLUE
    )
    f = facts(ref=selected, aeo=False)
    plain = risk.decide(f, [], key=KEY, set_version=SET, rates=RATES)
    assert plain.lane is Lane.BLUE and plain.random_selected and plain.random_lane is Lane.BLUE
    hit = risk.ProfileHit("X", 1, Lane.RED, "m", "r", None)
    higher = risk.decide(f, [hit], key=KEY, set_version=SET, rates=RATES)
    assert higher.lane is Lane.RED and not higher.random_selected and higher.random_lane is Lane.BLUE


def test_a_profile_random_rate_selects_a_share_of_matching_declarations() -> None:
    p = profile("PREF", [{"field": "preference_claimed", "op": "eq", "value": True}], random_rate=0.1)
    batch = [facts(item(preference="GSP"), ref=f"P{n}") for n in range(3000)]
    hits = both([p], batch)
    share = sum(1 for h in hits if h) / len(batch)
    assert 0.08 < share < 0.12


def test_the_valuation_outlier_needs_a_sample_and_a_robust_distance() -> None:
    rule = risk.ValuationRule(1, 90, 20, 10.0, 3.5, 0.05, Lane.YELLOW, "check")
    sample = [8.0 + 0.1 * k for k in range(25)]
    assert risk.valuation_outlier(1.2, sample[:19], rule) is None  # too few observations
    reason = risk.valuation_outlier(1.2, sample, rule)
    assert reason is not None and "of 25 declarations" in reason and "robust z" in reason
    assert risk.valuation_outlier(8.1, sample, rule) is None  # below the 10th percentile but not far
    assert risk.valuation_outlier(0.0, sample, rule) is None
    assert risk.valuation_outlier(5.0, [10.0] * 30, rule) is not None  # identical sample: the MAD floor


# ---------------------------------------------------------------------------------------------------------
# The compiled engine against the reference, on random profiles and declarations
# ---------------------------------------------------------------------------------------------------------


@st.composite
def conditions(draw: st.DrawFn) -> list[dict[str, Any]]:
    fields = draw(st.lists(st.sampled_from(sorted(risk.FIELDS)), min_size=1, max_size=4, unique=True))
    out: list[dict[str, Any]] = []
    for name in fields:
        ops = risk.FIELDS[name][1]
        op = draw(st.sampled_from(ops))
        value: Any
        if name == "hs_code":
            value = draw(
                st.lists(
                    st.builds(lambda c, n: c[:n], st.sampled_from(CODES), st.integers(1, 10)),
                    min_size=1,
                    max_size=3,
                )
            )
        elif name in ("origin", "route_countries"):
            value = draw(st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3))
        elif name == "office":
            value = draw(st.lists(st.sampled_from(OFFICES), min_size=1, max_size=2))
        elif name == "state":
            value = draw(st.lists(st.sampled_from(["RU", "BY"]), min_size=1, max_size=2))
        elif name == "direction":
            value = draw(st.sampled_from(["import", "export"]))
        elif name == "transit_alarms" and op == "any_in":
            value = draw(st.lists(st.sampled_from(risk.TRANSIT_ALARM_RULES[:4]), min_size=1, max_size=2))
        elif name in ("preference_claimed", "declarant_aeo", "transit_alarms"):
            value = draw(st.booleans())
        else:
            value = draw(st.sampled_from(NUMBERS))
            if draw(st.booleans()):  # sometimes a range: one lower and one upper bound
                lower, upper = (">", ">=")[draw(st.integers(0, 1))], ("<", "<=")[draw(st.integers(0, 1))]
                out.append({"field": name, "op": lower, "value": value})
                op, value = upper, draw(st.sampled_from(NUMBERS))
        out.append({"field": name, "op": op, "value": value})
    return out


@st.composite
def profiles(draw: st.DrawFn) -> list[risk.Profile]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        rate = draw(st.one_of(st.none(), st.sampled_from([0.5, 0.25])))
        lane = draw(st.sampled_from(["blue", "yellow", "red"]))
        out.append(profile(f"P{i:02d}", draw(conditions()), lane, random_rate=rate))
    return out


@st.composite
def declarations(draw: st.DrawFn, number: int) -> ScreeningFacts:
    items = tuple(
        ScreenedItem(
            number=i + 1,
            hs_code=draw(st.sampled_from(CODES)),
            origin=draw(st.sampled_from([*COUNTRIES, "??"])),
            net_mass_kg=Decimal(draw(st.sampled_from(["0", "0.5", "1", "10", "100", "1000"]))),
            customs_value=Decimal(1),
            currency="RUB",
            customs_value_usd=Decimal(
                draw(st.sampled_from(["0", "15", "40", "100", "1500", "8000", "123.45"]))
            ),
            preference=draw(st.sampled_from([None, "GSP"])),
        )
        for i in range(draw(st.integers(0, 5)))
    )
    return ScreeningFacts(
        declaration_ref=f"D{number}",
        direction=draw(st.sampled_from(["import", "export"])),
        state=draw(st.sampled_from(["RU", "BY"])),
        office=draw(st.sampled_from([*OFFICES, "99999"])),
        declarant_tax_id="1",
        declarant_aeo=draw(st.booleans()),
        history=DeclarantHistory(draw(st.integers(0, 5)), draw(st.integers(0, 3)), None),
        route_countries=tuple(draw(st.lists(st.sampled_from(COUNTRIES), max_size=3))),
        transit_mrn=None,
        transit_alarms=tuple(draw(st.lists(st.sampled_from(risk.TRANSIT_ALARM_RULES), max_size=2))),
        registered_at=datetime(2026, 1, 15, tzinfo=UTC),
        items=items,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ps=profiles(), data=st.data())
def test_the_compiled_engine_gives_the_reference_hits_and_lanes(ps: list[risk.Profile], data: Any) -> None:
    batch = [data.draw(declarations(n)) for n in range(data.draw(st.integers(1, 6)))]
    for f, hits in zip(batch, both(ps, batch), strict=True):
        slow = risk.screen_straightforward(ps, f, references=REFS, key=KEY, set_version=SET)
        assert risk.decide(f, hits, key=KEY, set_version=SET, rates=RATES) == risk.decide(
            f, slow, key=KEY, set_version=SET, rates=RATES
        )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
RAW_CONDITION = st.fixed_dictionaries(
    {
        "field": st.one_of(st.sampled_from(sorted(risk.FIELDS)), JSON),
        "op": st.one_of(
            st.sampled_from(["starts_with", "in", "not_in", "<", ">=", "eq", "any_in", "present"]), JSON
        ),
        "value": st.one_of(
            JSON,
            st.lists(st.sampled_from([*COUNTRIES, "8517", "10013010", "RU", "seal_opened"]), max_size=3),
            st.sampled_from(NUMBERS),
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(st.one_of(RAW_CONDITION, JSON), max_size=4))
def test_any_json_is_either_a_profile_or_a_refusal_and_a_profile_reads_back_the_same(raw: Any) -> None:
    try:
        parsed = risk.parse_conditions(raw)
    except ValidationFailed as refused:
        assert refused.errors and all(e.field.startswith("body.conditions") for e in refused.errors)
        return
    assert risk.parse_conditions([c.as_dict() for c in parsed]) == parsed
