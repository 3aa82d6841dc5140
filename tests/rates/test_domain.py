"""Parsing the banks' documents and the rule of the rate in force: pure, no database."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from tests.rates.fixtures import CBR_TEMPLATE, cbr_xml, nbrb_json

from tamga.rates.bundled import archive_documents, read_manifest, sample_rates
from tamga.rates.domain import (
    MAX_RATE_AGE,
    ExchangeRate,
    MalformedRateFile,
    RateNotFound,
    RateTable,
    convert,
    detect_authority,
    in_force,
    parse_cbr_daily,
    parse_daily,
    parse_nbrb_daily,
)

DAY = date(2031, 3, 4)


def test_cbr_document_in_windows_1251_with_nominals() -> None:
    data = cbr_xml(DAY)
    assert "Японских иен".encode("windows-1251") in data  # really single-byte Cyrillic
    daily = parse_cbr_daily(data)
    assert (daily.authority, daily.day, daily.currencies()) == ("CBR", DAY, ("USD", "JPY", "KZT", "BYN"))
    jpy = next(r for r in daily.rates if r.currency == "JPY")
    assert (jpy.base, jpy.nominal, jpy.rate, jpy.per_unit) == (
        "RUB",
        100,
        Decimal("49.8237"),
        Decimal("0.498237"),
    )
    assert daily.names["KZT"] == "Казахстанских тенге"
    assert not jpy.illustrative


def test_nbrb_document_with_the_rouble_per_100() -> None:
    daily = parse_nbrb_daily(nbrb_json(DAY))
    rub = next(r for r in daily.rates if r.currency == "RUB")
    assert (daily.authority, daily.day, rub.base, rub.nominal, rub.rate) == (
        "NBRB",
        DAY,
        "BYN",
        100,
        Decimal("3.7085"),
    )
    usd = next(r for r in daily.rates if r.currency == "USD")
    assert usd.rate == Decimal("2.9") and type(usd.rate) is Decimal
    assert daily.names["RUB"] == "Российских рублей"
    # one rate object (exrates/rates/431) is a document of one rate
    single = json.dumps(json.loads(nbrb_json(DAY))[0]).encode()
    assert parse_nbrb_daily(single).currencies() == ("USD",)


def test_format_is_detected() -> None:
    assert detect_authority(cbr_xml(DAY)) == "CBR"
    assert detect_authority(b"\xef\xbb\xbf  " + nbrb_json(DAY)) == "NBRB"
    assert parse_daily(nbrb_json(DAY)).authority == "NBRB"
    with pytest.raises(MalformedRateFile):
        detect_authority(b"USD;78,22")


def test_nominal_100_converts_exactly() -> None:
    jpy = next(r for r in parse_cbr_daily(cbr_xml(DAY)).rates if r.currency == "JPY")
    # 1,234,567 JPY at 49.8237 RUB per 100 JPY: 1234567 x 49.8237 = 61,510,695.8379, / 100
    assert convert(Decimal("1234567"), jpy) == Decimal("615106.958379")
    assert convert(Decimal("0.01"), jpy) == Decimal("0.00498237")
    kzt = ExchangeRate(DAY, "NBRB", "BYN", "KZT", 1000, Decimal("5.6312"), illustrative=False)
    assert convert(Decimal("150000"), kzt) == Decimal("844.68")


def _malformed(data: bytes) -> list[str]:
    with pytest.raises(MalformedRateFile) as caught:
        parse_daily(data)
    assert caught.value.status == 422
    return [f"{e.field}: {e.reason}" for e in caught.value.errors]


def test_malformed_cbr_names_the_element() -> None:
    bad_value = cbr_xml(DAY, usd="78.2267")
    assert _malformed(bad_value)[0].startswith("body.ValCurs.Valute[0].Value: '78.2267' is not a decimal")
    no_code = CBR_TEMPLATE.replace("<CharCode>JPY</CharCode>", "")
    assert _malformed(cbr_xml(DAY, template=no_code))[0].startswith("body.ValCurs.Valute[1].CharCode")
    zero_nominal = CBR_TEMPLATE.replace("<Nominal>100</Nominal>", "<Nominal>0</Nominal>", 1)
    assert _malformed(cbr_xml(DAY, template=zero_nominal))[0].startswith("body.ValCurs.Valute[1].Nominal")
    twice = CBR_TEMPLATE.replace("<CharCode>KZT</CharCode>", "<CharCode>JPY</CharCode>")
    assert "appears twice" in _malformed(cbr_xml(DAY, template=twice))[0]
    wrong_unit = CBR_TEMPLATE.replace("0,498237", "0,598237")
    assert _malformed(cbr_xml(DAY, template=wrong_unit))[0].startswith("body.ValCurs.Valute[1].VunitRate")
    assert _malformed(b"<ValCurs Date='31.02.2026'><Valute/></ValCurs>")[0].startswith("body.ValCurs@Date")
    assert "not <ValCurs>" in _malformed(b"<Rates/>")[0]
    assert "not well-formed" in _malformed(cbr_xml(DAY)[:-5])[0]


def test_entities_are_never_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b'<ValCurs Date="04.03.2031"><Valute><CharCode>&b;</CharCode></Valute></ValCurs>'
    )
    assert "refused XML construct" in _malformed(bomb)[0]
    external = (
        b'<?xml version="1.0"?><!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]><ValCurs>&x;</ValCurs>'
    )
    assert "refused XML construct" in _malformed(external)[0]


def test_malformed_nbrb_names_the_field() -> None:
    items = json.loads(nbrb_json(DAY))
    items[1]["Cur_Scale"] = 0
    items[2]["Cur_OfficialRate"] = "5,63"
    errors = _malformed(json.dumps(items).encode())
    assert errors[0].startswith("body[1].Cur_Scale") and errors[1].startswith("body[2].Cur_OfficialRate")
    items = json.loads(nbrb_json(DAY))
    items[2]["Date"] = "2031-03-05T00:00:00"
    assert _malformed(json.dumps(items).encode())[0].startswith("body[2].Date: 2031-03-05 differs")
    assert _malformed(b"[]")[0].startswith("body: expected a non-empty")
    assert _malformed(b"[1, 2")[0].startswith("body: not JSON")


def _rate(day: date, value: str = "80") -> ExchangeRate:
    return ExchangeRate(day, "CBR", "RUB", "USD", 1, Decimal(value), illustrative=False)


def test_a_rate_stays_in_force_over_the_weekend_until_the_next() -> None:
    saturday, tuesday = date(2031, 3, 1), date(2031, 3, 4)  # set Friday for Saturday; Monday for Tuesday
    rates = [_rate(saturday, "80"), _rate(tuesday, "81")]
    assert in_force(rates, saturday) == rates[0]
    assert in_force(rates, date(2031, 3, 2)) == rates[0]  # Sunday
    assert in_force(rates, date(2031, 3, 3)) == rates[0]  # Monday
    assert in_force(rates, tuesday) == rates[1]
    assert in_force(rates, date(2031, 2, 28)) is None  # nothing dated on or before


def test_a_rate_older_than_ten_days_is_stale_not_in_force() -> None:
    rates = [_rate(date(2031, 3, 1))]
    assert timedelta(days=10) == MAX_RATE_AGE
    assert in_force(rates, date(2031, 3, 11)) == rates[0]
    assert in_force(rates, date(2031, 3, 12)) is None  # never an older rate in its place


def test_the_new_year_holiday_rate_announced_by_the_bank_holds_to_its_end() -> None:
    # set on 30 December 2025 for 31 December 2025 to 12 January 2026 (12 days old on the 12th)
    rates = [_rate(date(2025, 12, 30)), _rate(date(2025, 12, 31))]
    assert in_force(rates, date(2026, 1, 12)) == rates[1]
    assert in_force(rates, date(2026, 1, 13)) is None
    # the same gap at another time of year is stale
    assert in_force([_rate(date(2031, 5, 1))], date(2031, 5, 13)) is None


def test_rate_table_names_the_field_and_gives_the_national_currency() -> None:
    table = RateTable("NBRB", DAY, {r.currency: r for r in parse_nbrb_daily(nbrb_json(DAY)).rates})
    assert table.get("byn").rate == 1 and table.get("BYN").currency == "BYN"
    assert table.per_unit("RUB") == Decimal("0.037085")
    assert table.convert(Decimal("10000"), "RUB") == Decimal("370.85")
    with pytest.raises(RateNotFound) as caught:
        table.get("EUR", field="body.items[4].currency")
    error = caught.value.errors[0]
    assert caught.value.status == 422 and error.field == "body.items[4].currency"
    assert all(part in error.reason for part in ("NBRB", "EUR", DAY.isoformat()))


def test_the_samples_parse_and_their_published_values_are_marked_real() -> None:
    rates = sample_rates()
    real = {(r.rate.authority, r.rate.currency, r.rate.date) for r in rates if not r.rate.illustrative}
    published = {
        (p["authority"], p["currency"], date.fromisoformat(p["date"])) for p in read_manifest()["published"]
    }
    assert real == published and len(published) >= 60
    assert all(p["source"].startswith(("https://", "derived")) for p in read_manifest()["published"])
    # the sample XML is windows-1251, as the Bank serves it
    name, data = next(archive_documents("cbr_daily.tar.xz"))
    assert name.endswith(".xml") and b'encoding="windows-1251"' in data
    assert "Доллар США".encode("windows-1251") in data


def test_values_the_columns_cannot_hold_are_refused() -> None:
    huge = CBR_TEMPLATE.replace(
        "<Value>49,8237</Value><VunitRate>0,498237</VunitRate>", "<Value>99999999999999,1</Value>"
    )
    assert "larger than a rate can be" in _malformed(cbr_xml(DAY, template=huge))[0]
    big_nominal = CBR_TEMPLATE.replace("<Nominal>100</Nominal>", "<Nominal>99999999999</Nominal>", 1)
    assert _malformed(cbr_xml(DAY, template=big_nominal))[0].startswith("body.ValCurs.Valute[1].Nominal")
    items = json.loads(nbrb_json(DAY))
    too_fine = json.dumps(items).replace("5.6312", "5.631200000001").encode()
    assert "decimal places" in _malformed(too_fine)[0]
    assert _malformed(json.dumps(items).replace("5.6312", "1e400").encode())[0].startswith(
        "body[2].Cur_OfficialRate"
    )
    assert _malformed(json.dumps(items).replace("5.6312", "NaN").encode())[0].startswith(
        "body[2].Cur_OfficialRate"
    )
    assert "nested too deeply" in _malformed(b"[" * 100_000 + b"]" * 100_000)[0]


def test_the_window_never_leaves_the_calendar() -> None:
    assert in_force([_rate(date(1, 1, 1))], date(1, 1, 3)) is not None
    with pytest.raises(RateNotFound) as caught:
        RateTable("CBR", date(1, 1, 2), {}).get("USD")
    assert "0001-01-01" in caught.value.errors[0].reason
