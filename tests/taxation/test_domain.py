"""The pure rules of mutual-trade taxation: worked cases with their sources, both sides of each boundary.

Rates are the central banks' published ones (checked values of `tamga/rates/samples/manifest.json`, each
with its publication): CBR USD 78.5850 on 24.12.2025 and 78.8527 on 14.01.2026, EUR 92.1964 on
15.01.2026 and 92.3973 on 14.01.2026; NBRB RUB 3.7085 per 100 on 14.01.2026, USD 2.9027 on 31.12.2025.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tamga.reference.catalog import load_catalog
from tamga.taxation.domain import (
    ApplicationAction,
    ApplicationStatus,
    ClaimFacts,
    ConfirmationFacts,
    Invoice,
    LineTaxInput,
    amounts_agree,
    application_fingerprint,
    application_totals,
    claim_day,
    claim_lapsed,
    claim_last_day,
    claim_warnings_due,
    fallback_vat,
    line_tax,
    match_problems,
    next_status,
    vat_due_date,
)
from tamga.taxation.exchange import retry_delay
from tamga.taxation.signing import (
    generate_private_key_pem,
    load_public_key,
    message_bytes,
    private_key_from_pem,
    public_key_pem,
    request_bytes,
    sign,
    verify,
)

D = Decimal


def test_due_date_is_the_20th_of_the_following_month() -> None:
    # Protocol (EAEU Treaty Annex 18) paras 19-20
    assert vat_due_date(date(2026, 1, 14)) == date(2026, 2, 20)
    assert vat_due_date(date(2026, 1, 31)) == date(2026, 2, 20)
    assert vat_due_date(date(2026, 2, 1)) == date(2026, 3, 20)


def test_due_date_across_a_year_end() -> None:
    assert vat_due_date(date(2025, 12, 1)) == date(2026, 1, 20)
    assert vat_due_date(date(2025, 12, 31)) == date(2026, 1, 20)
    assert vat_due_date(date(2025, 11, 30)) == date(2025, 12, 20)


def test_vat_rates_in_force_from_the_catalog() -> None:
    # RU Tax Code art. 164: 20 % until 31.12.2025, 22 % from 01.01.2026, 10 % reduced; BY Tax Code art. 122: 20 %/10 %
    catalog = load_catalog()
    assert catalog.vat_percent("RU", date(2025, 12, 31)) == D(20)
    assert catalog.vat_percent("RU", date(2026, 1, 1)) == D(22)
    assert catalog.vat_percent("RU", date(2026, 1, 1), reduced=True) == D(10)
    assert catalog.vat_percent("BY", date(2026, 1, 14)) == D(20)
    assert catalog.vat_percent("BY", date(2026, 1, 14), reduced=True) == D(10)


def test_russian_importer_before_2026_at_20_percent() -> None:
    # USD 10,000.00 registered 24.12.2025 at CBR 78.5850: 785,850.00 RUB, VAT 20 % = 157,170.00
    tax = line_tax(LineTaxInput(D("10000.00"), D("78.5850"), D(0), D(20)))
    assert (tax.value_national, tax.base, tax.vat) == (D("785850.00"), D("785850.00"), D("157170.00"))


def test_russian_importer_from_2026_at_22_percent() -> None:
    # USD 10,000.00 registered 14.01.2026 at CBR 78.8527: 788,527.00 RUB, VAT 22 % = 173,475.94
    tax = line_tax(LineTaxInput(D("10000.00"), D("78.8527"), D(0), D(22)))
    assert (tax.base, tax.vat) == (D("788527.00"), D("173475.94"))


def test_belarusian_importer_at_20_percent_with_the_rouble_per_100() -> None:
    # RUB 1,000,000.00 registered 14.01.2026 at NBRB 3.7085 BYN per 100 RUB: 37,085.00 BYN, VAT 7,417.00
    tax = line_tax(LineTaxInput(D("1000000.00"), D("3.7085") / 100, D(0), D(20)))
    assert (tax.value_national, tax.vat) == (D("37085.00"), D("7417.00"))


def test_a_good_at_the_reduced_10_percent() -> None:
    # EUR 5,000.00 of milk (HS 040120) registered 15.01.2026 at CBR 92.1964: 460,982.00 RUB, VAT 10 % = 46,098.20
    tax = line_tax(LineTaxInput(D("5000.00"), D("92.1964"), D(0), D(10)))
    assert (tax.base, tax.vat) == (D("460982.00"), D("46098.20"))


def test_an_excisable_good_has_the_excise_in_its_base() -> None:
    # Protocol para 13: base = value + excise. EUR 2,000.00 of wine at CBR 92.3973 (14.01.2026) = 184,794.60
    # RUB, excise 25,000.00 RUB: base 209,794.60, VAT 22 % = 46,154.812 -> 46,154.81
    tax = line_tax(LineTaxInput(D("2000.00"), D("92.3973"), D("25000.00"), D(22)))
    assert (tax.value_national, tax.excise, tax.base, tax.vat) == (
        D("184794.60"),
        D("25000.00"),
        D("209794.60"),
        D("46154.81"),
    )


def test_rounding_is_half_up_to_kopecks_line_by_line() -> None:
    # half a kopeck goes up (10.025 -> 10.03; VAT 10 % of 0.05 = 0.005 -> 0.01), and totals add rounded lines
    assert line_tax(LineTaxInput(D("10.025"), D(1), D(0), D(0))).value_national == D("10.03")
    assert line_tax(LineTaxInput(D("0.05"), D(1), D(0), D(10))).vat == D("0.01")  # 0.005 -> 0.01
    lines = [line_tax(LineTaxInput(D("0.05"), D(1), D(0), D(10))) for _ in range(3)]
    totals = application_totals(lines)
    assert totals.vat == D("0.03")  # the sum of rounded lines, not the rounding of 0.015
    assert totals.total_due == D("0.03")


def test_state_machine() -> None:
    assert next_status(ApplicationStatus.FILED, ApplicationAction.CONFIRM) is ApplicationStatus.CONFIRMED
    assert next_status(ApplicationStatus.CONFIRMED, ApplicationAction.CONFIRM) is None
    assert next_status(ApplicationStatus.WITHDRAWN, ApplicationAction.CORRECT) is None
    assert next_status(ApplicationStatus.CONFIRMED, ApplicationAction.CORRECT) is ApplicationStatus.FILED
    assert next_status(ApplicationStatus.REFUSED, ApplicationAction.WITHDRAW) is ApplicationStatus.WITHDRAWN


SHIPPED = date(2026, 1, 14)


def test_the_window_counts_the_shipment_day_as_day_1() -> None:
    assert claim_day(SHIPPED, SHIPPED) == 1
    assert claim_last_day(SHIPPED) == date(2026, 7, 12)
    assert claim_day(SHIPPED, date(2026, 7, 12)) == 180
    assert claim_day(SHIPPED, date(2026, 7, 13)) == 181


def test_day_180_keeps_the_claim_and_day_181_lapses_it() -> None:
    assert not claim_lapsed(SHIPPED, date(2026, 7, 12))
    assert claim_lapsed(SHIPPED, date(2026, 7, 13))
    # across a year end: shipped 15.12.2025, day 180 is 12.06.2026
    assert not claim_lapsed(date(2025, 12, 15), date(2026, 6, 12))
    assert claim_lapsed(date(2025, 12, 15), date(2026, 6, 13))


def test_warnings_at_days_150_and_170() -> None:
    day150 = SHIPPED + timedelta(days=149)
    assert day150 == date(2026, 6, 12)
    assert claim_warnings_due(SHIPPED, day150 - timedelta(days=1)) == ()
    assert claim_warnings_due(SHIPPED, day150) == (150,)
    assert claim_warnings_due(SHIPPED, date(2026, 7, 1)) == (150,)  # day 169
    assert claim_warnings_due(SHIPPED, date(2026, 7, 2)) == (150, 170)  # day 170


def test_fallback_vat_at_the_standard_rate() -> None:
    assert fallback_vat(D("785850.00"), D(22)) == D("172887.00")


def _claim(amount: str = "10000.00") -> ClaimFacts:
    return ClaimFacts("7707083893", "190542315", [Invoice("INV-1", date(2026, 1, 10), D(amount), "USD")])


def _confirmation(amount: str = "10000.00", number: str = "inv-1") -> ConfirmationFacts:
    return ConfirmationFacts(
        "7707083893", "190542315", [Invoice(number, date(2026, 1, 10))], {"USD": D(amount)}
    )


def test_matching_within_the_tolerance() -> None:
    # 1.00 or 1 % of the confirmed amount, the larger (tamga's policy, as the reconciliation's)
    assert match_problems(_claim(), _confirmation()) == []
    assert match_problems(_claim(), _confirmation("10100.00")) == []  # 1 % of 10,100 = 101.00 >= 100.00
    assert match_problems(_claim(), _confirmation("9901.00")) == []  # 1 % of 9,901 = 99.01 >= 99.00
    assert match_problems(_claim(), _confirmation("9900.00")) != []  # 1 % of 9,900 = 99.00 < 100.00
    assert amounts_agree(D("100.00"), D("101.00"))  # one unit
    assert not amounts_agree(D("100.00"), D("98.99"))  # 1.01 off, over max(1.00, 0.99)


def test_matching_refuses_other_parties_or_invoices() -> None:
    assert "invoices differ" in match_problems(_claim(), _confirmation(number="INV-2"))
    other = ConfirmationFacts(
        "7707083893", "100582333", [Invoice("INV-1", date(2026, 1, 10))], {"USD": D(10000)}
    )
    assert "buyer identifier differs" in match_problems(_claim(), other)


def test_fingerprint_ignores_invoice_order_and_case() -> None:
    a = application_fingerprint(
        ("BY", "1"),
        ("RU", "2"),
        ("c-1", date(2026, 1, 1)),
        [("a", date(2026, 1, 2)), ("B", date(2026, 1, 3))],
    )
    b = application_fingerprint(
        ("BY", "1"),
        ("RU", "2"),
        ("C-1", date(2026, 1, 1)),
        [("b", date(2026, 1, 3)), ("A", date(2026, 1, 2))],
    )
    c = application_fingerprint(
        ("BY", "1"), ("RU", "2"), ("C-1", date(2026, 1, 1)), [("b", date(2026, 1, 3))]
    )
    assert a == b != c


def test_retry_delay_doubles_up_to_the_cap() -> None:
    assert [retry_delay(n, 5, 60) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]


def test_signatures_verify_and_refuse_tampering() -> None:
    pem = generate_private_key_pem()
    key, public = private_key_from_pem(pem), load_public_key(public_key_pem(pem))
    payload = {"application_number": "BY2026A000000001", "amounts": {"RUB": "1000.00"}}
    data = message_bytes("BY", "m-1", "confirmation", payload)
    signature = sign(key, data)
    assert verify(public, data, signature)
    tampered = message_bytes("BY", "m-1", "confirmation", {**payload, "amounts": {"RUB": "1.00"}})
    assert not verify(public, tampered, signature)
    assert not verify(public, message_bytes("RU", "m-1", "confirmation", payload), signature)
    assert not verify(public, data, "not-base64!")
    other = load_public_key(public_key_pem(generate_private_key_pem()))
    assert not verify(other, data, signature)
    request = request_bytes("POST", "/api/v1/tax/exchange/registers", "1700000000", "BY", b"{}")
    assert not verify(public, request_bytes("POST", "/other", "1700000000", "BY", b"{}"), sign(key, request))


@pytest.mark.parametrize(
    "bad", ["", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"]
)
def test_unreadable_public_keys_are_refused(bad: str) -> None:
    from tamga.taxation.signing import BadKey

    with pytest.raises(BadKey):
        load_public_key(bad)
