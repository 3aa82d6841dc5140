"""Exchange rates as the central banks publish them: parsing their daily documents, the rate in force. No I/O.

Formats:
- Bank of Russia, `https://www.cbr.ru/scripts/XML_daily.asp?date_req=dd/mm/yyyy` (described at
  https://www.cbr.ru/development/sxml/): windows-1251 XML, `<ValCurs Date="dd.mm.yyyy" name="Foreign
  Currency Market">` with one `<Valute ID=...>` per currency: `NumCode`, `CharCode`, `Nominal` (1, 10,
  100, ... 100000 units), `Name`, `Value` (RUB for `Nominal` units, a decimal comma, 4 places) and, in
  current documents, `VunitRate` (RUB for one unit, trailing zeros dropped). Older documents have no
  VunitRate. `Date` is the day from which the rates are in force; the Bank sets them the working day
  before, and they stay in force until the next ones.
- National Bank of the Republic of Belarus, `https://api.nbrb.by/exrates/rates?ondate=YYYY-MM-DD&periodicity=0`
  (described at https://www.nbrb.by/apihelp/exrates): a JSON list of `{"Cur_ID", "Date", "Cur_Abbreviation",
  "Cur_Scale", "Cur_Name", "Cur_OfficialRate"}`, `Cur_OfficialRate` BYN for `Cur_Scale` units (the Russian
  rouble per 100, the tenge per 1000). The NBRB sets a rate for every calendar day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, cast
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from tamga.kit.errors import FieldError, ValidationFailed
from tamga.reference.catalog import AUTHORITY_BASE, AUTHORITY_OF_STATE, MAX_RATE_AGE, Authority, ExchangeRate

__all__ = [
    "ANNOUNCED_IN_FORCE",
    "AUTHORITY_BASE",
    "AUTHORITY_OF_STATE",
    "LOOKBACK",
    "MAX_RATE_AGE",
    "Authority",
    "DailyRates",
    "ExchangeRate",
    "MalformedRateFile",
    "RateNotFound",
    "RateTable",
    "convert",
    "detect_authority",
    "in_force",
    "national_rate",
    "parse_cbr_daily",
    "parse_daily",
    "parse_nbrb_daily",
    "still_in_force",
    "window_start",
]

_CURRENCY = re.compile(r"[A-Z]{3}")
_CBR_DECIMAL = re.compile(r"\d+(,\d+)?")
_CBR_DATE = re.compile(r"\d{2}\.\d{2}\.\d{4}")
# Before a long holiday a bank sets its rates for the whole of it, which can exceed MAX_RATE_AGE: such an
# announced period keeps that rate in force to its end. (authority, rate date) -> last day in force.
ANNOUNCED_IN_FORCE: Final[Mapping[tuple[str, date], date]] = {
    # "Банк России 28 декабря установит официальные курсы ... на период с 29 декабря 2024 года по
    # 9 января 2025 года" (the Bank's notice, reported at https://ru24.pro/moscow/394221447)
    ("CBR", date(2024, 12, 29)): date(2025, 1, 9),
    # set on 30 December 2025 for 31 December 2025 to 12 January 2026
    # (https://www.vedomosti.ru/finance/news/2025/12/12/1162752-zafiksiruet-kurs)
    ("CBR", date(2025, 12, 31)): date(2026, 1, 12),
}
# How far back a query must look to find every rate that may still be in force.
LOOKBACK: Final = max([MAX_RATE_AGE, *((end - start) for (_, start), end in ANNOUNCED_IN_FORCE.items())])
# What the exchange_rates columns hold: NUMERIC(24, 10) and a 32-bit nominal.
MAX_RATE: Final = Decimal(10) ** 13
MAX_PLACES: Final = 10
MAX_NOMINAL: Final = 10**9
# VunitRate is Value / Nominal rounded by the Bank; a larger disagreement means a corrupted document.
_UNIT_RATE_TOLERANCE: Final = Decimal("0.0001")


class MalformedRateFile(ValidationFailed):
    """A rate document that does not parse; names the element or field at fault. Nothing of it is imported."""


class RateNotFound(ValidationFailed):
    """No rate of the authority is in force for the currency on the day (422 naming the field)."""

    def __init__(self, *, field: str, authority: str, currency: str, day: date, reason: str = "") -> None:
        because = reason or (
            f"none dated from {window_start(day, MAX_RATE_AGE).isoformat()} to {day.isoformat()} "
            f"(a rate stays in force at most {MAX_RATE_AGE.days} days)"
        )
        message = f"no {authority} exchange rate for {currency} in force on {day.isoformat()}: {because}"
        super().__init__([FieldError(field, message)])
        self.field = field
        self.authority = authority
        self.currency = currency
        self.day = day


@dataclass(frozen=True, slots=True)
class DailyRates:
    """One bank's rates for one day, as one published document gives them."""

    authority: Authority
    day: date
    rates: tuple[ExchangeRate, ...]
    names: Mapping[str, str] = field(default_factory=dict)

    def currencies(self) -> tuple[str, ...]:
        return tuple(r.currency for r in self.rates)


def window_start(day: date, span: timedelta = LOOKBACK) -> date:
    """Give the earliest date within `span` before `day` (the calendar's first day at the least)."""
    return day - span if day - date.min >= span else date.min


def _out_of_range(value: Decimal) -> str | None:
    if value >= MAX_RATE:
        return f"{value} is larger than a rate can be"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        return f"{value} has more than {MAX_PLACES} decimal places"
    return None


def national_rate(authority: Authority, day: date) -> ExchangeRate:
    """Give the rate 1 of the authority's own currency (RUB for CBR, BYN for NBRB)."""
    base = AUTHORITY_BASE[authority]
    return ExchangeRate(day, authority, base, base, 1, Decimal(1), illustrative=False)


def convert(amount: Decimal, rate: ExchangeRate) -> Decimal:
    """Give the amount of foreign currency in the national currency, unrounded (amount x rate / nominal)."""
    if rate.nominal == 1:
        return amount * rate.rate
    # multiply first: dividing by a nominal of 10 or 100 then stays exact
    return amount * rate.rate / rate.nominal


def still_in_force(rate: ExchangeRate, day: date) -> bool:
    """Tell whether the newest rate dated on or before `day` is still in force on it: at most
    MAX_RATE_AGE old, or within a holiday period the bank announced (ANNOUNCED_IN_FORCE)."""
    if rate.date > day:
        return False
    if day - rate.date <= MAX_RATE_AGE:
        return True
    last = ANNOUNCED_IN_FORCE.get((rate.authority, rate.date))
    return last is not None and day <= last


def in_force(dated: Iterable[ExchangeRate], day: date) -> ExchangeRate | None:
    """Give the rate in force on a day among dated rates of one currency: the latest dated on or
    before it, if still in force (never an older one in its place)."""
    newest: ExchangeRate | None = None
    for rate in dated:
        if rate.date <= day and (newest is None or rate.date > newest.date):
            newest = rate
    return newest if newest is not None and still_in_force(newest, day) else None


@dataclass(frozen=True, slots=True)
class RateTable:
    """The rates of one authority in force on one day, for a set of currencies (one query's worth)."""

    authority: Authority
    day: date
    rates: Mapping[str, ExchangeRate]

    @property
    def base(self) -> str:
        return AUTHORITY_BASE[self.authority]

    def get(self, currency: str, field: str = "currency") -> ExchangeRate:
        """Give the rate in force for the currency, or raise RateNotFound naming `field`."""
        code = currency.strip().upper()
        if code == self.base:
            return national_rate(self.authority, self.day)
        rate = self.rates.get(code)
        if rate is None:
            raise RateNotFound(field=field, authority=self.authority, currency=code, day=self.day)
        return rate

    def convert(self, amount: Decimal, currency: str, field: str = "currency") -> Decimal:
        """Give the amount in the national currency, unrounded."""
        return convert(amount, self.get(currency, field))

    def per_unit(self, currency: str, field: str = "currency") -> Decimal:
        """Give the national currency for one unit of the currency, unrounded."""
        return self.get(currency, field).per_unit


# -- parsing


def detect_authority(data: bytes) -> Authority:
    """Tell from its first character which bank's document this is: XML is CBR, JSON is NBRB."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return "CBR"
    if head in (b"[", b"{"):
        return "NBRB"
    raise MalformedRateFile(
        [FieldError("body", "neither a Bank of Russia XML document nor a National Bank of Belarus JSON list")]
    )


def parse_daily(data: bytes, authority: Authority | None = None, *, illustrative: bool = False) -> DailyRates:
    """Parse a daily document of the given (or detected) authority."""
    chosen = authority or detect_authority(data)
    if chosen == "CBR":
        return parse_cbr_daily(data, illustrative=illustrative)
    if chosen == "NBRB":
        return parse_nbrb_daily(data, illustrative=illustrative)
    raise MalformedRateFile([FieldError("authority", f"unknown authority {chosen!r}: CBR or NBRB")])


def _fail(path: str, reason: str) -> MalformedRateFile:
    return MalformedRateFile([FieldError(path, reason)])


def parse_cbr_daily(data: bytes, *, illustrative: bool = False) -> DailyRates:
    """Parse the Bank of Russia's XML_daily document (bytes as served: windows-1251, decimal commas).

    DTDs and entities are refused (defusedxml), so no expansion or external fetch can happen.
    """
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise _fail("body", f"refused XML construct: {exc}") from exc
    except (ParseError, LookupError, ValueError) as exc:
        raise _fail("body", f"not well-formed XML: {exc}") from exc
    if root.tag != "ValCurs":
        raise _fail("body", f"the root element is <{root.tag}>, not <ValCurs>")
    raw_date = root.get("Date")
    if raw_date is None or not _CBR_DATE.fullmatch(raw_date.strip()):
        raise _fail("body.ValCurs@Date", f"{raw_date!r} is not a date dd.mm.yyyy")
    try:
        day = datetime.strptime(raw_date.strip(), "%d.%m.%Y").date()
    except ValueError as exc:
        raise _fail("body.ValCurs@Date", f"{raw_date!r} is not a date dd.mm.yyyy") from exc
    errors: list[FieldError] = []
    rates: list[ExchangeRate] = []
    names: dict[str, str] = {}
    valutes = [child for child in root if child.tag == "Valute"]
    if not valutes:
        raise _fail("body.ValCurs", "no <Valute> element")
    for i, valute in enumerate(valutes):
        path = f"body.ValCurs.Valute[{i}]"
        parsed = _cbr_valute(valute, path, day, illustrative, errors)
        if parsed is None:
            continue
        rate, name = parsed
        if rate.currency in names:
            errors.append(FieldError(f"{path}.CharCode", f"{rate.currency} appears twice"))
            continue
        names[rate.currency] = name
        rates.append(rate)
    if errors:
        raise MalformedRateFile(errors)
    return DailyRates("CBR", day, tuple(rates), names)


def _text(element: Element, tag: str, path: str, errors: list[FieldError]) -> str | None:
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        errors.append(FieldError(f"{path}.{tag}", f"<{tag}> is missing or empty"))
        return None
    return child.text.strip()


def _cbr_decimal(text: str, where: str, errors: list[FieldError]) -> Decimal | None:
    if not _CBR_DECIMAL.fullmatch(text):
        errors.append(FieldError(where, f"{text!r} is not a decimal with a comma (78,2267)"))
        return None
    value = Decimal(text.replace(",", "."))
    problem = f"{text!r} is not positive" if value <= 0 else _out_of_range(value)
    if problem is not None:
        errors.append(FieldError(where, problem))
        return None
    return value


def _cbr_valute(
    valute: Element, path: str, day: date, illustrative: bool, errors: list[FieldError]
) -> tuple[ExchangeRate, str] | None:
    before = len(errors)
    code = _text(valute, "CharCode", path, errors)
    raw_nominal = _text(valute, "Nominal", path, errors)
    raw_value = _text(valute, "Value", path, errors)
    name = valute.findtext("Name", default="").strip()
    if code is not None and not _CURRENCY.fullmatch(code):
        errors.append(FieldError(f"{path}.CharCode", f"{code!r} is not an ISO 4217 code"))
    nominal = None
    if raw_nominal is not None:
        if raw_nominal.isdigit() and raw_nominal.isascii() and 0 < int(raw_nominal) <= MAX_NOMINAL:
            nominal = int(raw_nominal)
        else:
            errors.append(FieldError(f"{path}.Nominal", f"{raw_nominal!r} is not a positive whole number"))
    value = _cbr_decimal(raw_value, f"{path}.Value", errors) if raw_value is not None else None
    unit_text = valute.findtext("VunitRate")
    if unit_text is not None and value is not None and nominal is not None:
        unit = _cbr_decimal(unit_text.strip(), f"{path}.VunitRate", errors)
        if unit is not None and abs(unit - value / nominal) > _UNIT_RATE_TOLERANCE * max(unit, Decimal(1)):
            errors.append(
                FieldError(f"{path}.VunitRate", f"{unit_text.strip()} disagrees with Value / Nominal")
            )
    if len(errors) > before or code is None or nominal is None or value is None:
        return None
    rate = ExchangeRate(day, "CBR", "RUB", code, nominal, value, illustrative=illustrative)
    return rate, name


def parse_nbrb_daily(data: bytes, *, illustrative: bool = False) -> DailyRates:
    """Parse the National Bank of Belarus's JSON rates of one day (a list, or one rate object)."""
    try:
        document: Any = json.loads(data.decode("utf-8-sig"), parse_float=Decimal, parse_int=int)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail("body", f"not JSON: {exc}") from exc
    except RecursionError as exc:
        raise _fail("body", "not JSON: nested too deeply") from exc
    items = [document] if isinstance(document, dict) else document
    if not isinstance(items, list) or not items:
        raise _fail("body", "expected a non-empty JSON list of rates")
    errors: list[FieldError] = []
    rates: list[ExchangeRate] = []
    names: dict[str, str] = {}
    day: date | None = None
    for i, item in enumerate(items):
        path = f"body[{i}]"
        if not isinstance(item, dict):
            errors.append(FieldError(path, "not a JSON object"))
            continue
        parsed = _nbrb_item(item, path, illustrative, errors)
        if parsed is None:
            continue
        rate, name = parsed
        if day is None:
            day = rate.date
        elif rate.date != day:
            errors.append(FieldError(f"{path}.Date", f"{rate.date} differs from the document's day {day}"))
            continue
        if rate.currency in names:
            errors.append(FieldError(f"{path}.Cur_Abbreviation", f"{rate.currency} appears twice"))
            continue
        names[rate.currency] = name
        rates.append(rate)
    if errors:
        raise MalformedRateFile(errors)
    assert day is not None
    return DailyRates("NBRB", day, tuple(rates), names)


def _nbrb_item(
    item: Mapping[str, Any], path: str, illustrative: bool, errors: list[FieldError]
) -> tuple[ExchangeRate, str] | None:
    before = len(errors)
    raw_date, code = item.get("Date"), item.get("Cur_Abbreviation")
    scale, value = item.get("Cur_Scale"), item.get("Cur_OfficialRate")
    day: date | None = None
    try:
        day = datetime.fromisoformat(raw_date).date() if isinstance(raw_date, str) else None
    except ValueError:
        day = None
    if day is None:
        errors.append(FieldError(f"{path}.Date", f"{raw_date!r} is not a date YYYY-MM-DDT00:00:00"))
    if not isinstance(code, str) or not _CURRENCY.fullmatch(code):
        errors.append(FieldError(f"{path}.Cur_Abbreviation", f"{code!r} is not an ISO 4217 code"))
    if isinstance(scale, bool) or not isinstance(scale, int) or not 0 < scale <= MAX_NOMINAL:
        errors.append(FieldError(f"{path}.Cur_Scale", f"{scale!r} is not a positive whole number"))
    number: Decimal | None = None
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        number = Decimal(value)
    try:
        valid = number is not None and number.is_finite() and number > 0
    except InvalidOperation:
        valid = False
    problem = _out_of_range(number) if valid and number is not None else None
    if not valid or problem is not None:
        reason = problem or f"{value!r} is not a positive number"
        errors.append(FieldError(f"{path}.Cur_OfficialRate", reason))
    if len(errors) > before:
        return None
    name = item.get("Cur_Name")
    rate = ExchangeRate(
        cast(date, day),
        "NBRB",
        "BYN",
        cast(str, code),
        cast(int, scale),
        cast(Decimal, number),
        illustrative=illustrative,
    )
    return rate, name if isinstance(name, str) else ""


def stale_before(day: date) -> date:
    """Give the earliest rate date still in force on `day`."""
    return day - MAX_RATE_AGE
