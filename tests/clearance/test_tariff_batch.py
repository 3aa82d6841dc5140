"""The batch path (`assess_many`) gives exactly the reference assessment (`assess_items`) on random input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tamga.clearance.tariff import TariffError, TariffItem, assess_items, assess_many
from tamga.clearance.tariff_rules import load_rule_book

BOOK = load_rule_book()
CODES = sorted(BOOK.lines)
ORIGINS = ["CN", "DE", "VN", "IN", "BD", "ET", "TR", "US"]
DAYS = [date(2015, 3, 2), date(2025, 6, 16), date(2025, 12, 31), date(2026, 1, 1), date(2026, 11, 27)]

money = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("50000000.00"), places=2)
quantity = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=3)
rate = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("200"), places=4)


@st.composite
def items(draw: st.DrawFn) -> TariffItem:
    code = draw(st.sampled_from(CODES))
    quantities = {
        unit: draw(quantity)
        for unit in ("kg", "l", "l_alc", "cm3", "1000pcs", "pcs", "pairs", "hp")
        if draw(st.booleans()) or unit in ("kg", "l")
    }
    if draw(st.booleans()):
        quantities["retail_value"] = draw(money)
    return TariffItem(
        number=0,
        hs_code=code,
        origin=draw(st.sampled_from(ORIGINS)),
        preference=draw(st.sampled_from([None, None, "DEV", "LDC"])),
        customs_value=draw(money),
        quantities=quantities,
        vat_reduced=draw(st.booleans()) and draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(
    drawn=st.lists(items(), min_size=1, max_size=25),
    state=st.sampled_from(["RU", "BY"]),
    direction=st.sampled_from(["import", "import", "export"]),
    on=st.sampled_from(DAYS),
    eur=st.one_of(st.none(), rate),
)
def test_batch_equals_scalar(
    drawn: list[TariffItem], state: str, direction: str, on: date, eur: Decimal | None
) -> None:
    numbered = [
        TariffItem(n + 1, i.hs_code, i.origin, i.preference, i.customs_value, i.quantities, i.vat_reduced)
        for n, i in enumerate(drawn)
    ]
    rates = {} if eur is None else {"EUR": eur}
    try:
        reference = assess_items(numbered, state=state, direction=direction, on=on, rates=rates)  # type: ignore[arg-type]
    except TariffError as refused:
        try:
            assess_many(numbered, state=state, direction=direction, on=on, rates=rates)  # type: ignore[arg-type]
        except TariffError as also:
            assert also.errors == refused.errors
        else:
            raise AssertionError("the batch path accepted what the reference refused") from None
        return
    assert assess_many(numbered, state=state, direction=direction, on=on, rates=rates) == reference  # type: ignore[arg-type]


def test_batch_equals_scalar_on_a_large_clean_declaration() -> None:
    valid = [c for c in CODES if BOOK.lines[c].rate_on(date(2025, 6, 16)) is not None]
    numbered = [
        TariffItem(
            n + 1,
            valid[n % len(valid)],
            "DE",
            None,
            Decimal(1000 + n * 37) / 100,
            {
                "kg": Decimal(n % 97),
                "l": Decimal(n % 89),
                "l_alc": Decimal(n % 13),
                "1000pcs": Decimal(2),
                "retail_value": Decimal("9000.00"),
                "pcs": Decimal(1),
                "pairs": Decimal(n % 50),
                "hp": Decimal(80 + n % 300),
            },
        )
        for n in range(999)
    ]
    reference = assess_items(
        numbered, state="RU", direction="import", on=date(2025, 6, 16), rates={"EUR": Decimal("91.3241")}
    )
    assert (
        assess_many(
            numbered, state="RU", direction="import", on=date(2025, 6, 16), rates={"EUR": Decimal("91.3241")}
        )
        == reference
    )
    assert len(reference.items) == 999
