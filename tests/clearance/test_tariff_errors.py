"""The tariff engine refuses what it cannot assess, naming each field at fault; traces say what they did."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tamga.clearance.tariff import (
    TariffError,
    TariffItem,
    assess_items,
    assess_many,
    customs_fee,
)
from tamga.clearance.tariff_rules import load_rule_book
from tamga.kit.errors import ValidationFailed

D = Decimal
ON = date(2025, 6, 16)
EUR = {"EUR": D("91.3241")}


def item(
    number: int,
    code: str,
    value: str = "1000.00",
    *,
    origin: str = "CN",
    preference: str | None = None,
    vat_reduced: bool = False,
    quantities: dict[str, Decimal] | None = None,
) -> TariffItem:
    return TariffItem(number, code, origin, preference, D(value), quantities or {}, vat_reduced)


def fields(exc: pytest.ExceptionInfo[TariffError]) -> list[str]:
    return [e.field for e in exc.value.errors]


@pytest.mark.parametrize("assess", [assess_items, assess_many])
def test_code_not_at_ten_digits(assess: object) -> None:
    with pytest.raises(TariffError) as exc:
        assess([item(1, "3305100000"), item(2, "33051000")], state="RU", direction="import", on=ON, rates=EUR)  # type: ignore[operator]
    assert fields(exc) == ["body.items[1].hs_code"]
    assert "10-digit" in exc.value.errors[0].reason
    assert isinstance(exc.value, ValidationFailed) and exc.value.status == 422


@pytest.mark.parametrize("assess", [assess_items, assess_many])
def test_unknown_code(assess: object) -> None:
    with pytest.raises(TariffError) as exc:
        assess([item(1, "9999999999")], state="RU", direction="import", on=ON, rates=EUR)  # type: ignore[operator]
    assert fields(exc) == ["body.items[0].hs_code"]
    assert "not in the tariff table" in exc.value.errors[0].reason


@pytest.mark.parametrize("assess", [assess_items, assess_many])
def test_code_with_no_rate_on_that_date(assess: object) -> None:
    # 8701 20 901 3 belongs to the 2012 edition of the tariff, replaced from 2017
    with pytest.raises(TariffError) as exc:
        assess(
            [item(1, "8701209013", quantities={"cm3": D("12000")})],
            state="RU",
            direction="import",
            on=ON,
            rates=EUR,
        )  # type: ignore[operator]
    assert fields(exc) == ["body.items[0].hs_code"]
    assert "no import duty rate in force on 2025-06-16" in exc.value.errors[0].reason


@pytest.mark.parametrize("assess", [assess_items, assess_many])
def test_missing_currency_rate_is_named(assess: object) -> None:
    with pytest.raises(TariffError) as exc:
        assess(
            [item(1, "2001100000", quantities={"kg": D("10")})],
            state="RU",
            direction="import",
            on=ON,
            rates={"USD": D("80")},
        )  # type: ignore[operator]
    assert fields(exc) == ["rates.EUR"]
    assert "no EUR rate on 2025-06-16" in exc.value.errors[0].reason


@pytest.mark.parametrize("assess", [assess_items, assess_many])
def test_missing_quantity_for_a_specific_rate(assess: object) -> None:
    with pytest.raises(TariffError) as exc:
        assess([item(1, "2201101100")], state="RU", direction="import", on=ON, rates=EUR)  # type: ignore[operator]
    assert fields(exc) == ["body.items[0].quantities.l"]


@pytest.mark.parametrize("assess", [assess_items, assess_many])
def test_every_fault_is_reported_at_once(assess: object) -> None:
    items = [
        item(1, "12345"),
        item(2, "3305100000", value="-1.00"),
        item(3, "0302140000", origin="CN", preference="DEV"),
        item(4, "3305100000", origin="IN", preference="DEV"),
        item(5, "3305100000", vat_reduced=True),
        item(6, "3305100000", preference="XYZ"),
        item(7, "2402209000", quantities={"1000pcs": D("1")}),
    ]
    with pytest.raises(TariffError) as exc:
        assess(items, state="RU", direction="import", on=ON, rates=EUR)  # type: ignore[operator]
    assert fields(exc) == [
        "body.items[0].hs_code",
        "body.items[1].customs_value",
        "body.items[2].preference",
        "body.items[3].preference",
        "body.items[4].vat_reduced",
        "body.items[5].preference",
        "body.items[6].quantities.retail_value",
    ]
    reasons = [e.reason for e in exc.value.errors]
    assert "origin CN is not on the list" in reasons[2]
    assert "not on the list of goods eligible" in reasons[3]
    assert "reduced VAT list of RU" in reasons[4]


def test_no_fee_scale_on_that_date() -> None:
    with pytest.raises(TariffError) as exc:
        customs_fee(state="RU", customs_value_total=D("1000.00"), on=date(2024, 12, 31), direction="import")
    assert [e.field for e in exc.value.errors] == ["on"]


def test_trace_of_a_combined_duty_shows_rule_source_base_rate_and_conversion() -> None:
    result = assess_items(
        [item(1, "2001100000", value="10000.00", quantities={"kg": D("2000")})],
        state="RU",
        direction="import",
        on=ON,
        rates=EUR,
    )
    duty = result.items[0].duty
    ad_valorem, specific, greater = duty.trace
    assert ad_valorem.rule == "CCT EAEU 2001 10 000 0: 12 % but not less than 0.06 EUR/kg"
    assert "Decision of the EEC Council No. 80 of 14.09.2021" in ad_valorem.source
    assert ad_valorem.base == "customs value 10000.00 RUB"
    assert ad_valorem.rate == "12 % in force from 2022-01-01"
    assert ad_valorem.result == "1200.00 RUB"
    assert specific.base == "2000 kg"
    assert specific.conversion is not None
    assert (specific.conversion.currency, specific.conversion.rate, specific.conversion.on) == (
        "EUR",
        D("91.3241"),
        ON,
    )
    assert specific.result == "120.00 EUR = 10958.892 RUB"
    assert "specific minimum" in greater.rule
    assert greater.base == "1200.00 RUB vs 10958.892 RUB"
    assert greater.result == "10958.892 RUB, rounded half-up to 0.01: 10958.89 RUB"
    assert "rounding: tamga: each charge" in greater.source  # the final step names the rounding rule
    assert "rounding" not in ad_valorem.source
    vat = result.items[0].vat
    assert (
        vat.trace[0].base == "customs value 10000.00 RUB + duty 10958.89 RUB + excise 0.00 RUB = 20958.89 RUB"
    )
    assert vat.trace[0].result == "4191.778 RUB, rounded half-up to 0.01: 4191.78 RUB"


def test_illustrative_entries_say_so_in_the_trace() -> None:
    result = assess_items([item(1, "8517130000")], state="RU", direction="import", on=ON, rates=EUR)
    assert "(illustrative entry)" in result.items[0].duty.trace[0].rule


def test_the_table_has_at_least_forty_real_lines_with_sources() -> None:
    book = load_rule_book()
    assert len(book.lines) >= 40
    for line in book.lines.values():
        assert len(line.code) == 10 and line.code.isdigit()
        assert line.rates and all(r.source for r in line.rates)
    assert sum(not line.illustrative for line in book.lines.values()) >= 40
    kinds = {r.kind for line in book.lines.values() for r in line.rates}
    assert {"ad_valorem", "specific", "combined_max", "free"} <= kinds
