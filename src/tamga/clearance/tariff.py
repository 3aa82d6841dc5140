"""The tariff engine: import duty, excise, VAT and the customs fee of a goods declaration, each amount
with its trace (which rule, its source, the base, the rate and since when, the conversion, the result).
Pure: no I/O, no database; the rules are the bundled data files read by `tariff_rules`.

Two paths give the same `Assessment`: `assess_items` looks every rule up and computes item by item (the
reference); `assess_many` groups items by what decides their rules (code, origin, preference, VAT claim,
state, day, EUR rate), prepares the rule objects and their texts once per group and keeps them across
calls (the fast path). A declaration with a fault goes to the reference, which names every field at fault.

Rounding (`data/vat.json`, `rounding`): each charge of an item is computed unrounded in the national
currency (specific rates converted at the per-unit rate the caller passes in `rates`) and rounded once,
half-up, to 0.01 (kopeck, Belarusian kopeck); the final step of a trace says so when rounding changed the
amount and names the rule. The VAT base is the customs value plus the rounded duty and excise. The fee is
a whole amount of the state's scale; totals are sums of rounded charges.

Exports: tamga's table has no export duties (none of its lines bears one), excise is not charged and VAT
is 0 % (RU Tax Code art. 164(1)(1); BY Tax Code art. 122); only the customs fee is due.

Errors (`TariffError`, a 422): `body.items[i].hs_code` (not 10 digits, not in the table, no rate that
day), `body.items[i].preference`, `body.items[i].vat_reduced`, `body.items[i].customs_value`,
`body.items[i].quantities.<unit>` (a quantity a specific rate or excise needs), `rates.<currency>` (no rate
passed for a currency a specific rate is in), `on` (no VAT or fee rule that day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from tamga.clearance.tariff_rules import (
    DutyRate,
    ExciseLine,
    ExciseRate,
    FeeScale,
    PreferenceRegime,
    RuleBook,
    TariffLine,
    VatRate,
    load_rule_book,
    per_unit,
    plain_number,
    quantity_unit,
    spaced_code,
)
from tamga.kit.errors import FieldError, ValidationFailed
from tamga.reference.catalog import NATIONAL_CURRENCY

State = Literal["RU", "BY"]
Direction = Literal["import", "export"]
ChargeKind = Literal["duty", "excise", "vat", "fee"]

KINDS: tuple[ChargeKind, ...] = ("duty", "excise", "vat", "fee")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
EXPORT_SOURCE = (
    "EAEU Customs Code art. 139-140 (export procedure); no export duty is set for any line of tamga's "
    "table; VAT 0 %: RU Tax Code art. 164(1)(1), BY Tax Code art. 122; excise not charged on export: "
    "RU Tax Code art. 184, and the Tax Code of the Republic of Belarus"
)


class TariffError(ValidationFailed):
    """A declaration the tariff engine cannot assess; each field at fault is named."""


@dataclass(frozen=True, slots=True)
class TariffItem:
    """One goods item as the tariff engine sees it."""

    number: int  # 1-based item number
    hs_code: str  # 10-digit EAEU code
    origin: str  # ISO 3166-1 alpha-2
    preference: str | None  # None, or a regime of data/tariff_preferences.json: DEV, LDC
    customs_value: Decimal  # national currency of the declaring state, converted and rounded to 0.01
    # supplementary units: kg (net), l, l_alc (litres of pure alcohol), pcs, pairs, cm3, 1000pcs, hp (engine
    # power, for the excise on cars), retail_value (estimated value of tobacco: maximum retail price x packs)
    quantities: Mapping[str, Decimal]
    vat_reduced: bool = False  # the declarant claims the reduced VAT list; the engine checks the code


@dataclass(frozen=True, slots=True)
class Conversion:
    """A foreign-currency amount converted at the rate passed by the caller."""

    currency: str
    rate: Decimal  # national-currency units per one unit of `currency`
    on: date

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} on {self.on.isoformat()}"


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One step of a computation: the rule, its source, the base, the rate, the conversion, the result."""

    rule: str
    source: str
    base: str
    rate: str
    conversion: Conversion | None
    result: str


@dataclass(frozen=True, slots=True)
class Charge:
    """An amount owed, rounded as the law does it, with the steps that produced it."""

    kind: ChargeKind
    amount: Decimal
    currency: str
    trace: tuple[TraceStep, ...]


@dataclass(frozen=True, slots=True)
class ItemAssessment:
    number: int
    duty: Charge
    excise: Charge
    vat: Charge


@dataclass(frozen=True, slots=True)
class Assessment:
    items: tuple[ItemAssessment, ...]
    fee: Charge
    totals: Mapping[str, Decimal]  # duty, excise, vat, fee, total


# The batch path builds its frozen values through the slot descriptors, which skips the frozen
# dataclass's per-field `object.__setattr__` calls; the values are the same (and compare equal).
_new = object.__new__


def _setter(cls: type, name: str) -> Callable[[object, object], None]:
    setter: Callable[[object, object], None] = cls.__dict__[name].__set__
    return setter


_S_RULE, _S_SOURCE, _S_BASE = (_setter(TraceStep, n) for n in ("rule", "source", "base"))
_S_RATE, _S_CONV, _S_RESULT = (_setter(TraceStep, n) for n in ("rate", "conversion", "result"))
_S_KIND, _S_AMOUNT, _S_CURRENCY, _S_TRACE = (
    _setter(Charge, n) for n in ("kind", "amount", "currency", "trace")
)
_S_NUMBER, _S_DUTY, _S_EXCISE, _S_VAT = (
    _setter(ItemAssessment, n) for n in ("number", "duty", "excise", "vat")
)


def _step(
    rule: str, source: str, base: str, rate: str, conversion: Conversion | None, result: str
) -> TraceStep:
    step: TraceStep = _new(TraceStep)
    _S_RULE(step, rule)
    _S_SOURCE(step, source)
    _S_BASE(step, base)
    _S_RATE(step, rate)
    _S_CONV(step, conversion)
    _S_RESULT(step, result)
    return step


def _charge(kind: ChargeKind, amount: Decimal, currency: str, trace: tuple[TraceStep, ...]) -> Charge:
    charge: Charge = _new(Charge)
    _S_KIND(charge, kind)
    _S_AMOUNT(charge, amount)
    _S_CURRENCY(charge, currency)
    _S_TRACE(charge, trace)
    return charge


def _item_assessment(number: int, duty: Charge, excise: Charge, vat: Charge) -> ItemAssessment:
    result: ItemAssessment = _new(ItemAssessment)
    _S_NUMBER(result, number)
    _S_DUTY(result, duty)
    _S_EXCISE(result, excise)
    _S_VAT(result, vat)
    return result


def round_charge(amount: Decimal) -> Decimal:
    """Give an amount rounded half-up to 0.01 of the national currency."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------------
# texts shared by both paths (so that their traces are equal to the character)


def _amount(value: Decimal, currency: str) -> str:
    """Give an amount with at least two decimals and no trailing zeros beyond them: 12000.00, 5479.446."""
    text = str(value)
    if text[-3:-2] == ".":  # the common case: exactly two decimals
        return text + " " + currency
    if "E" in text:
        text = format(value, "f")
    point = text.find(".")
    if point < 0:
        return f"{text}.00 {currency}"
    if len(text) - point == 2:
        return f"{text}0 {currency}"
    text = text.rstrip("0")
    decimals = len(text) - point - 1
    if decimals < 2:
        text += "00"[decimals:]
    return f"{text} {currency}"


def _result(raw: Decimal, rounded: Decimal, currency: str) -> str:
    """Give a final result, saying how it was rounded when rounding changed it."""
    if raw == rounded:
        return _amount(rounded, currency)
    return f"{_amount(raw, currency)}, rounded half-up to 0.01: {_amount(rounded, currency)}"


def _with_rounding(source: str, book: RuleBook, state: str) -> str:
    """Give a final step's source with the rounding rule and its source appended."""
    return f"{source}; rounding: {book.rounding[state]}"


def _since(valid_from: date) -> str:
    return f"in force from {valid_from.isoformat()}"


def _duty_rule(line: TariffLine, rate: DutyRate) -> str:
    flag = " (illustrative entry)" if line.illustrative else ""
    return f"CCT EAEU {spaced_code(line.code)}: {rate.text}{flag}"


def _preference_rule(regime: PreferenceRegime) -> str:
    return f"tariff preference {regime.code} ({regime.name}): {plain_number(regime.factor * 100)} % of the CCT rate"


def _excise_rule(line: ExciseLine, state: str) -> str:
    flag = " (illustrative entry)" if line.illustrative else ""
    return f"excise {state}: {line.name}{flag}"


def _vat_rule(state: str, reduced: bool, percent: Decimal) -> str:
    which = "reduced" if reduced else "standard"
    return f"import VAT {state}: {which} rate {plain_number(percent)} %"


def _not_excisable(book: RuleBook, state: str, code: str, currency: str) -> Charge:
    return Charge(
        "excise",
        ZERO,
        currency,
        (
            TraceStep(
                rule=f"not excisable: {spaced_code(code)} is on no excise list of {state}",
                source=book.sources["excise.json"][1],
                base="-",
                rate="-",
                conversion=None,
                result=_amount(ZERO, currency),
            ),
        ),
    )


def _export_charges(state: str, code: str, currency: str) -> tuple[Charge, Charge, Charge]:
    def charge(kind: ChargeKind, what: str) -> Charge:
        step = TraceStep(
            rule=f"export from {state}: {what}",
            source=EXPORT_SOURCE,
            base=spaced_code(code),
            rate="0 %" if kind == "vat" else "-",
            conversion=None,
            result=_amount(ZERO, currency),
        )
        return Charge(kind, ZERO, currency, (step,))

    return (
        charge("duty", "no export duty"),
        charge("excise", "excise not charged"),
        charge("vat", "VAT at 0 %"),
    )


# ---------------------------------------------------------------------------------------------------
# validation shared by both paths


def _check_code(book: RuleBook, index: int, code: str, on: date) -> tuple[TariffLine | None, str | None]:
    if len(code) != 10 or not code.isdigit():
        return None, f"{code!r} is not a 10-digit EAEU CN FEA code"
    line = book.lines.get(code)
    if line is None:
        return None, f"{spaced_code(code)} is not in the tariff table"
    if line.rate_on(on) is None:
        return None, f"{spaced_code(code)} has no import duty rate in force on {on.isoformat()}"
    return line, None


def _check_preference(
    book: RuleBook, item: TariffItem, on: date
) -> tuple[PreferenceRegime | None, str | None]:
    if item.preference is None:
        return None, None
    regime = book.preferences.get(item.preference)
    if regime is None:
        return (
            None,
            f"unknown tariff preference {item.preference!r} (known: {', '.join(sorted(book.preferences))})",
        )
    if not regime.covers(on):
        return None, f"preference {regime.code} is not in force on {on.isoformat()}"
    if item.origin not in regime.countries:
        return None, f"origin {item.origin} is not on the list of the preference {regime.code}"
    if not regime.goods_eligible(item.hs_code):
        return (
            None,
            f"{spaced_code(item.hs_code)} is not on the list of goods eligible for tariff preferences",
        )
    return regime, None


def _check_vat_reduced(book: RuleBook, state: str, item: TariffItem) -> str | None:
    if item.vat_reduced and not book.reduced_vat[state].lists(item.hs_code):
        return f"{spaced_code(item.hs_code)} is not on the reduced VAT list of {state}"
    return None


def _quantity(item: TariffItem, unit: str) -> Decimal | None:
    q = item.quantities.get(unit)
    if q is None or q < 0:
        return None
    return q


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise TariffError(errors)


def _common_checks(state: str, direction: str, on: date, book: RuleBook) -> VatRate:
    if state not in NATIONAL_CURRENCY:
        raise TariffError([FieldError("state", f"unknown state {state!r}")])
    if direction not in ("import", "export"):
        raise TariffError([FieldError("direction", f"unknown direction {direction!r}")])
    vat = book.vat_on(state, on)
    if vat is None:
        raise TariffError([FieldError("on", f"no VAT rate of {state} in force on {on.isoformat()}")])
    return vat


# ---------------------------------------------------------------------------------------------------
# the reference path: one item at a time, everything looked up and computed from the rule book


def assess_items(
    items: Sequence[TariffItem],
    *,
    state: State,
    direction: Direction,
    on: date,
    rates: Mapping[str, Decimal],
    book: RuleBook | None = None,
) -> Assessment:
    """Give duty, excise and VAT of every item and the declaration's fee, computed item by item."""
    book = book or load_rule_book()
    vat_rate = _common_checks(state, direction, on, book)
    currency = NATIONAL_CURRENCY[state]
    errors: list[FieldError] = []
    results: list[ItemAssessment] = []
    for index, item in enumerate(items):
        found = _reference_item(book, index, item, state, direction, on, rates, vat_rate, currency, errors)
        if found is not None:
            results.append(found)
    _raise(errors)
    return _assessment(book, results, state, direction, on, items, currency)


def _reference_item(
    book: RuleBook,
    index: int,
    item: TariffItem,
    state: str,
    direction: str,
    on: date,
    rates: Mapping[str, Decimal],
    vat_rate: VatRate,
    currency: str,
    errors: list[FieldError],
) -> ItemAssessment | None:
    where = f"body.items[{index}]"
    line, fault = _check_code(book, index, item.hs_code, on)
    if fault is not None:
        errors.append(FieldError(f"{where}.hs_code", fault))
        return None
    assert line is not None
    if item.customs_value < 0:
        errors.append(FieldError(f"{where}.customs_value", "must not be negative"))
        return None
    if direction == "export":
        duty, excise, vat = _export_charges(state, item.hs_code, currency)
        return ItemAssessment(item.number, duty, excise, vat)
    regime, fault = _check_preference(book, item, on)
    if fault is not None:
        errors.append(FieldError(f"{where}.preference", fault))
    fault = _check_vat_reduced(book, state, item)
    if fault is not None:
        errors.append(FieldError(f"{where}.vat_reduced", fault))

    # duty: compute every part, then write the steps (the last one says how the amount was rounded)
    rate = line.rate_on(on)
    assert rate is not None
    cv = item.customs_value
    av: Decimal | None = None
    foreign: Decimal | None = None
    sp: Decimal | None = None
    q: Decimal | None = None
    fx: Decimal | None = None
    if rate.kind != "free" and rate.percent is not None:
        av = cv * rate.percent.scaleb(-2)
    if rate.kind != "free" and rate.specific is not None:
        assert rate.unit is not None and rate.currency is not None
        q = _quantity(item, rate.unit)
        fx = rates.get(rate.currency)
        if q is None:
            errors.append(
                FieldError(
                    f"{where}.quantities.{rate.unit}", f"the specific duty needs the quantity in {rate.unit}"
                )
            )
        if fx is None:
            errors.append(
                FieldError(
                    f"rates.{rate.currency}",
                    f"no {rate.currency} rate on {on.isoformat()} (item {item.number})",
                )
            )
        if q is None or fx is None:
            return None
        foreign = q * rate.specific
        sp = foreign * fx
    if regime is None and item.preference is not None:
        return None
    if rate.kind == "free":
        duty_raw = ZERO
    elif rate.kind == "ad_valorem":
        assert av is not None
        duty_raw = av
    elif rate.kind == "specific":
        assert sp is not None
        duty_raw = sp
    elif rate.kind == "combined_max":
        assert av is not None and sp is not None
        duty_raw = av if av >= sp else sp
    else:
        assert av is not None and sp is not None
        duty_raw = av + sp
    before_preference = duty_raw
    if regime is not None:
        duty_raw = duty_raw * regime.factor
    duty_amount = round_charge(duty_raw)

    rule = _duty_rule(line, rate)
    final_source = _with_rounding(rate.source, book, state)
    last = "preference" if regime is not None else rate.kind
    steps: list[TraceStep] = []
    cv_text = f"customs value {_amount(cv, currency)}"
    if rate.kind == "free":
        steps.append(
            TraceStep(
                rule, final_source, cv_text, f"0 % {_since(rate.valid_from)}", None, _amount(ZERO, currency)
            )
        )
    if av is not None:
        assert rate.percent is not None
        final = last == "ad_valorem"
        steps.append(
            TraceStep(
                rule=rule,
                source=final_source if final else rate.source,
                base=cv_text,
                rate=f"{plain_number(rate.percent)} % {_since(rate.valid_from)}",
                conversion=None,
                result=_result(av, duty_amount, currency) if final else _amount(av, currency),
            )
        )
    if sp is not None:
        assert foreign is not None and fx is not None and q is not None
        assert rate.specific is not None and rate.currency is not None
        final = last == "specific"
        steps.append(
            TraceStep(
                rule=rule,
                source=final_source if final else rate.source,
                base=f"{_quantity_text(q)} {quantity_unit(rate.unit)}",
                rate=f"{plain_number(rate.specific)} {rate.currency}/{per_unit(rate.unit)} {_since(rate.valid_from)}",
                conversion=Conversion(rate.currency, fx, on),
                result=f"{_amount(foreign, rate.currency)} = "
                + (_result(sp, duty_amount, currency) if final else _amount(sp, currency)),
            )
        )
    if rate.kind in ("combined_max", "combined_sum"):
        assert av is not None and sp is not None
        final = regime is None
        if rate.kind == "combined_max":
            which = "ad valorem" if av >= sp else "specific minimum"
            step_rule, base = (
                f"{rule}: the greater applies ({which})",
                f"{_amount(av, currency)} vs {_amount(sp, currency)}",
            )
        else:
            step_rule, base = f"{rule}: the sum applies", f"{_amount(av, currency)} + {_amount(sp, currency)}"
        steps.append(
            TraceStep(
                rule=step_rule,
                source=final_source if final else rate.source,
                base=base,
                rate=rate.text,
                conversion=None,
                result=_result(before_preference, duty_amount, currency)
                if final
                else _amount(before_preference, currency),
            )
        )
    if regime is not None:
        steps.append(
            TraceStep(
                rule=_preference_rule(regime),
                source=_with_rounding(f"{regime.source}; goods: {regime.goods_source}", book, state),
                base=f"origin {item.origin}: {_amount(before_preference, currency)}",
                rate=f"x {plain_number(regime.factor)} {_since(regime.valid_from)}",
                conversion=None,
                result=_result(duty_raw, duty_amount, currency),
            )
        )
    duty = Charge("duty", duty_amount, currency, tuple(steps))

    # excise
    excise_line = book.excise_line(state, item.hs_code)
    if excise_line is None:
        excise = _not_excisable(book, state, item.hs_code, currency)
    else:
        xr = excise_line.rate_on(on)
        if xr is None:
            errors.append(
                FieldError(
                    f"{where}.hs_code", f"no {state} excise rate for {excise_line.name} on {on.isoformat()}"
                )
            )
            return None
        texts = _excise_texts(book, excise_line, xr, state, currency)
        found = _excise_charge(item, xr, texts, currency)
        if isinstance(found, FieldError):
            errors.append(FieldError(f"{where}.{found.field}", found.reason))
            if found.field == "quantities.1000pcs" and _quantity(item, "retail_value") is None:
                errors.append(
                    FieldError(
                        f"{where}.quantities.retail_value",
                        "the excise needs the estimated (maximum retail) value",
                    )
                )
            return None
        excise = found

    # VAT
    reduced = item.vat_reduced
    percent = vat_rate.reduced if reduced else vat_rate.standard
    base_amount = cv + duty.amount + excise.amount
    vat_raw = base_amount * percent.scaleb(-2)
    vat_amount = round_charge(vat_raw)
    vat_source = vat_rate.source + (f"; list: {book.reduced_vat[state].source}" if reduced else "")
    vat_step = TraceStep(
        rule=_vat_rule(state, reduced, percent),
        source=_with_rounding(vat_source, book, state),
        base=f"{cv_text} + duty {_amount(duty.amount, currency)} + excise {_amount(excise.amount, currency)}"
        f" = {_amount(base_amount, currency)}",
        rate=f"{plain_number(percent)} % {_since(vat_rate.valid_from)}",
        conversion=None,
        result=_result(vat_raw, vat_amount, currency),
    )
    vat = Charge("vat", vat_amount, currency, (vat_step,))
    return ItemAssessment(item.number, duty, excise, vat)


def _quantity_text(q: Decimal) -> str:
    return format(q, "f")


@dataclass(frozen=True, slots=True)
class _ExciseTexts:
    """The parts of an excise step that depend only on the rate (prepared once per rate in the batch path)."""

    rule: str
    source: str  # with the rounding rule appended
    rate: str  # per_unit and cigarettes
    bands: tuple[str, ...]  # per_hp_band: the rate text of each band


def _excise_texts(
    book: RuleBook, line: ExciseLine, xr: ExciseRate, state: str, currency: str
) -> _ExciseTexts:
    since = _since(xr.valid_from)
    rate = ""
    if xr.kind == "per_unit":
        assert xr.amount is not None
        rate = f"{plain_number(xr.amount)} {currency}/{per_unit(xr.unit)} {since}"
    elif xr.kind == "per_1000pcs_plus_percent_min":
        assert xr.amount is not None and xr.percent is not None and xr.minimum is not None
        rate = (
            f"{plain_number(xr.amount)} {currency}/1000 pcs + {plain_number(xr.percent)} % of the estimated value, "
            f"not less than {plain_number(xr.minimum)} {currency}/1000 pcs {since}"
        )
    bands = tuple(
        f"{plain_number(b.amount)} {currency}/hp for engines over {plain_number(b.above_hp)}"
        + ("" if b.up_to_hp is None else f" up to {plain_number(b.up_to_hp)}")
        + f" hp {since}"
        for b in xr.bands
    )
    return _ExciseTexts(_excise_rule(line, state), _with_rounding(xr.source, book, state), rate, bands)


def _excise_charge(
    item: TariffItem, xr: ExciseRate, texts: _ExciseTexts, currency: str
) -> Charge | FieldError:
    """Give the excise of an item, or the fault (its field relative to the item) when a quantity is missing."""
    if xr.kind == "per_unit":
        assert xr.unit is not None and xr.amount is not None
        q = _quantity(item, xr.unit)
        if q is None:
            return FieldError(f"quantities.{xr.unit}", f"the excise needs the quantity in {xr.unit}")
        raw = q * xr.amount
        amount = round_charge(raw)
        step = TraceStep(
            texts.rule,
            texts.source,
            f"{_quantity_text(q)} {quantity_unit(xr.unit)}",
            texts.rate,
            None,
            _result(raw, amount, currency),
        )
    elif xr.kind == "per_1000pcs_plus_percent_min":
        assert xr.amount is not None and xr.percent is not None and xr.minimum is not None
        thousands = _quantity(item, "1000pcs")
        retail = _quantity(item, "retail_value")
        if thousands is None:
            return FieldError("quantities.1000pcs", "the excise needs the quantity in 1000pcs")
        if retail is None:
            return FieldError(
                "quantities.retail_value", "the excise needs the estimated (maximum retail) value"
            )
        specific = thousands * xr.amount
        ad_valorem = retail * xr.percent.scaleb(-2)
        combined = specific + ad_valorem
        minimum = thousands * xr.minimum
        raw = combined if combined >= minimum else minimum
        amount = round_charge(raw)
        step = TraceStep(
            texts.rule,
            texts.source,
            f"{_quantity_text(thousands)} x 1000 pcs; estimated value {_amount(retail, currency)}",
            texts.rate,
            None,
            f"{_amount(specific, currency)} + {_amount(ad_valorem, currency)} = {_amount(combined, currency)}; "
            f"minimum {_amount(minimum, currency)}; due {_result(raw, amount, currency)}",
        )
    else:
        hp = _quantity(item, "hp")
        if hp is None:
            return FieldError("quantities.hp", "the excise needs the engine power in hp")
        index = 0
        for n, b in enumerate(xr.bands):
            if hp > b.above_hp and (b.up_to_hp is None or hp <= b.up_to_hp):
                index = n
                break
        raw = hp * xr.bands[index].amount
        amount = round_charge(raw)
        step = TraceStep(
            texts.rule,
            texts.source,
            f"{_quantity_text(hp)} hp",
            texts.bands[index],
            None,
            _result(raw, amount, currency),
        )
    return Charge("excise", amount, currency, (step,))


class _LazyCodes(Sequence[str]):
    """The items' codes, read only if a fee scale asks for them (Belarus's chapter amounts)."""

    def __init__(self, items: Sequence[TariffItem]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self._items[index].hs_code


def _assessment(
    book: RuleBook,
    results: Sequence[ItemAssessment],
    state: str,
    direction: str,
    on: date,
    items: Sequence[TariffItem],
    currency: str,
) -> Assessment:
    value_total = sum((item.customs_value for item in items), ZERO)
    fee = _fee(book, state, value_total, on, direction, _LazyCodes(items))
    duty = sum((r.duty.amount for r in results), ZERO)
    excise = sum((r.excise.amount for r in results), ZERO)
    vat = sum((r.vat.amount for r in results), ZERO)
    return _with_totals(results, fee, duty, excise, vat)


def _with_totals(
    results: Sequence[ItemAssessment], fee: Charge, duty: Decimal, excise: Decimal, vat: Decimal
) -> Assessment:
    totals = {"duty": duty, "excise": excise, "vat": vat, "fee": fee.amount}
    totals["total"] = duty + excise + vat + fee.amount
    return Assessment(tuple(results), fee, totals)


# ---------------------------------------------------------------------------------------------------
# the customs fee


def customs_fee(
    *,
    state: State,
    customs_value_total: Decimal,
    on: date,
    direction: Direction,
    hs_codes: Sequence[str] = (),
) -> Charge:
    """Give the customs fee for customs operations of one declaration of this total customs value.

    `hs_codes` (the declaration's item codes) matter only where a state fixes its own amount for some goods
    chapters (Belarus); a declaration with goods of several chapters pays the highest amount.
    """
    return _fee(load_rule_book(), state, customs_value_total, on, direction, hs_codes)


def _fee(
    book: RuleBook, state: str, value_total: Decimal, on: date, direction: str, hs_codes: Sequence[str]
) -> Charge:
    if state not in NATIONAL_CURRENCY:
        raise TariffError([FieldError("state", f"unknown state {state!r}")])
    currency = NATIONAL_CURRENCY[state]
    scale = book.fee_scale(state, direction, on)
    if scale is None:
        raise TariffError(
            [FieldError("on", f"no customs fee scale of {state} for {direction} on {on.isoformat()}")]
        )
    return _fee_charge(scale, value_total, currency, hs_codes)


def _fee_charge(scale: FeeScale, value_total: Decimal, currency: str, hs_codes: Sequence[str]) -> Charge:
    index, step = scale.step_for(value_total)
    amount = step.amount.quantize(CENT)
    chapter_note = ""
    if scale.chapter_amounts:
        for chapter in sorted({code[:2] for code in hs_codes}):
            special = scale.chapter_amounts.get(chapter)
            if special is not None and special > amount:
                amount = special.quantize(CENT)
                chapter_note = (
                    f"; goods of chapter {chapter}: {_amount(special, currency)}, the highest amount applies"
                )
    lower = scale.steps[index - 1].up_to if index > 0 else None
    if len(scale.steps) == 1:
        band = "any customs value"
    elif lower is None:
        band = f"total customs value up to {_amount(step.up_to or ZERO, currency)} inclusive"
    elif step.up_to is None:
        band = f"total customs value over {_amount(lower, currency)}"
    else:
        band = f"total customs value over {_amount(lower, currency)} up to {_amount(step.up_to, currency)} inclusive"
    flag = "" if step.checked else " (amount not checked against the published text: illustrative)"
    trace = TraceStep(
        rule=f"customs fee for customs operations, {scale.state}, step {index + 1} of {len(scale.steps)}: {band}{flag}",
        source=scale.source,
        base=f"total customs value {_amount(value_total, currency)}",
        rate=f"{_amount(step.amount, currency)} per declaration {_since(scale.valid_from)}{chapter_note}",
        conversion=None,
        result=_amount(amount, currency),
    )
    return Charge("fee", amount, currency, (trace,))


# ---------------------------------------------------------------------------------------------------
# the batch path: items grouped by what decides their rules, rule objects prepared once per group


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything about an item's rules that does not depend on its value or quantities."""

    rate: DutyRate
    kind: str
    rule: str
    source: str  # the rate's source
    final_source: str  # the same with the rounding rule appended
    av_fraction: Decimal | None
    av_rate_text: str
    specific: Decimal | None
    unit: str
    foreign_currency: str
    sp_rate_text: str
    fx: Decimal | None
    conversion: Conversion | None
    free_rate_text: str
    rate_text: str
    regime: PreferenceRegime | None
    pref_rule: str
    pref_source: str
    pref_rate_text: str
    excise_rate: ExciseRate | None
    excise_texts: _ExciseTexts | None
    not_excisable: Charge | None
    vat_fraction: Decimal
    vat_rule: str
    vat_source: str
    vat_rate_text: str
    zero_text: str


# plans outlive a call: a service assessing declaration after declaration keeps them warm
_PLAN_CACHE: dict[int, tuple[RuleBook, dict[tuple[object, ...], _Plan | None]]] = {}
_PLAN_CACHE_LIMIT = 100_000


def _plans_of(book: RuleBook) -> dict[tuple[object, ...], _Plan | None]:
    entry = _PLAN_CACHE.get(id(book))
    if entry is None or entry[0] is not book:
        if len(_PLAN_CACHE) >= 8:
            _PLAN_CACHE.clear()
        entry = _PLAN_CACHE[id(book)] = (book, {})
    plans = entry[1]
    if len(plans) > _PLAN_CACHE_LIMIT:
        plans.clear()
    return plans


def assess_many(
    items: Sequence[TariffItem],
    *,
    state: State,
    direction: Direction,
    on: date,
    rates: Mapping[str, Decimal],
    book: RuleBook | None = None,
) -> Assessment:
    """Give the same assessment as `assess_items`, computing with rule objects prepared per group of items
    that share a tariff line, origin, preference and VAT claim (and kept across calls).

    A declaration with any fault is handed to the reference path, which names every field at fault.
    """
    book = book or load_rule_book()
    vat_rate = _common_checks(state, direction, on, book)
    currency = NATIONAL_CURRENCY[state]
    results: list[ItemAssessment] = []
    append = results.append
    if direction == "export":
        exports: dict[str, tuple[Charge, Charge, Charge]] = {}
        for item in items:
            charges = exports.get(item.hs_code)
            if charges is None:
                _line, fault = _check_code(book, 0, item.hs_code, on)
                if fault is not None:
                    return assess_items(
                        items, state=state, direction=direction, on=on, rates=rates, book=book
                    )
                charges = exports[item.hs_code] = _export_charges(state, item.hs_code, currency)
            if item.customs_value < 0:
                return assess_items(items, state=state, direction=direction, on=on, rates=rates, book=book)
            append(ItemAssessment(item.number, *charges))
        return _assessment(book, results, state, direction, on, items, currency)
    plans = _plans_of(book)
    eur = rates.get("EUR")
    duty_total = excise_total = vat_total = value_total = ZERO
    for item in items:
        key = (state, on, item.hs_code, item.preference, item.origin, item.vat_reduced, eur)
        try:
            plan = plans[key]
        except KeyError:
            plan = plans[key] = _prepare(book, item, state, on, rates, vat_rate, currency)
        cv = item.customs_value
        found = None if plan is None or cv < 0 else _apply(plan, item, currency)
        if found is None:
            return assess_items(items, state=state, direction=direction, on=on, rates=rates, book=book)
        append(found)
        value_total += cv
        duty_total += found.duty.amount
        excise_total += found.excise.amount
        vat_total += found.vat.amount
    fee = _fee(book, state, value_total, on, direction, _LazyCodes(items))
    return _with_totals(results, fee, duty_total, excise_total, vat_total)


def _prepare(
    book: RuleBook,
    item: TariffItem,
    state: str,
    on: date,
    rates: Mapping[str, Decimal],
    vat_rate: VatRate,
    currency: str,
) -> _Plan | None:
    """Give the plan of an item's group, or None when the group has a fault."""
    line, fault = _check_code(book, 0, item.hs_code, on)
    if fault is not None:
        return None
    assert line is not None
    rate = line.rate_on(on)
    assert rate is not None
    regime, fault = _check_preference(book, item, on)
    if fault is not None or _check_vat_reduced(book, state, item) is not None:
        return None
    fx: Decimal | None = None
    conversion: Conversion | None = None
    if rate.specific is not None and rate.kind != "free":
        assert rate.currency is not None
        if rate.currency != "EUR":
            return None  # the plan cache is keyed by the EUR rate only; the reference handles the rest
        fx = rates.get(rate.currency)
        if fx is None:
            return None
        conversion = Conversion(rate.currency, fx, on)
    excise_line = book.excise_line(state, item.hs_code)
    excise_rate = excise_line.rate_on(on) if excise_line is not None else None
    if excise_line is not None and excise_rate is None:
        return None
    reduced = item.vat_reduced
    percent = vat_rate.reduced if reduced else vat_rate.standard
    vat_source = vat_rate.source + (f"; list: {book.reduced_vat[state].source}" if reduced else "")
    return _Plan(
        rate=rate,
        kind=rate.kind,
        rule=_duty_rule(line, rate),
        source=rate.source,
        final_source=_with_rounding(rate.source, book, state),
        av_fraction=rate.percent.scaleb(-2) if rate.percent is not None and rate.kind != "free" else None,
        av_rate_text=f"{plain_number(rate.percent)} % {_since(rate.valid_from)}"
        if rate.percent is not None
        else "",
        specific=rate.specific if rate.kind != "free" else None,
        unit=rate.unit or "",
        foreign_currency=rate.currency or "",
        sp_rate_text=(
            f"{plain_number(rate.specific)} {rate.currency}/{per_unit(rate.unit)} {_since(rate.valid_from)}"
            if rate.specific is not None
            else ""
        ),
        fx=fx,
        conversion=conversion,
        free_rate_text=f"0 % {_since(rate.valid_from)}",
        rate_text=rate.text,
        regime=regime,
        pref_rule=_preference_rule(regime) if regime else "",
        pref_source=_with_rounding(f"{regime.source}; goods: {regime.goods_source}", book, state)
        if regime
        else "",
        pref_rate_text=f"x {plain_number(regime.factor)} {_since(regime.valid_from)}" if regime else "",
        excise_rate=excise_rate,
        excise_texts=(
            _excise_texts(book, excise_line, excise_rate, state, currency)
            if excise_line is not None and excise_rate is not None
            else None
        ),
        not_excisable=_not_excisable(book, state, item.hs_code, currency) if excise_line is None else None,
        vat_fraction=percent.scaleb(-2),
        vat_rule=_vat_rule(state, reduced, percent),
        vat_source=_with_rounding(vat_source, book, state),
        vat_rate_text=f"{plain_number(percent)} % {_since(vat_rate.valid_from)}",
        zero_text=_amount(ZERO, currency),
    )


def _apply(plan: _Plan, item: TariffItem, currency: str) -> ItemAssessment | None:
    """Give an item's assessment from its group's plan, or None when the item has a fault."""
    cv = item.customs_value
    cv_text = f"customs value {_amount(cv, currency)}"
    kind = plan.kind
    regime = plan.regime
    if kind == "ad_valorem" and regime is None:
        # the common case, one step
        assert plan.av_fraction is not None
        av = cv * plan.av_fraction
        duty_amount = av.quantize(CENT, rounding=ROUND_HALF_UP)
        duty_text = _amount(duty_amount, currency)
        duty_steps: tuple[TraceStep, ...] = (
            _step(
                plan.rule,
                plan.final_source,
                cv_text,
                plan.av_rate_text,
                None,
                duty_text
                if av == duty_amount
                else f"{_amount(av, currency)}, rounded half-up to 0.01: {duty_text}",
            ),
        )
    else:
        av = None
        sp = None
        foreign = None
        q = None
        if plan.av_fraction is not None:
            av = cv * plan.av_fraction
        if plan.specific is not None:
            q = _quantity(item, plan.unit)
            if q is None:
                return None
            assert plan.fx is not None
            foreign = q * plan.specific
            sp = foreign * plan.fx
        if kind == "free":
            duty_raw = ZERO
        elif kind == "ad_valorem":
            assert av is not None
            duty_raw = av
        elif kind == "specific":
            assert sp is not None
            duty_raw = sp
        elif kind == "combined_max":
            assert av is not None and sp is not None
            duty_raw = av if av >= sp else sp
        else:
            assert av is not None and sp is not None
            duty_raw = av + sp
        before_preference = duty_raw
        if regime is not None:
            duty_raw = duty_raw * regime.factor
        duty_amount = duty_raw.quantize(CENT, rounding=ROUND_HALF_UP)
        last = "preference" if regime is not None else kind
        steps: list[TraceStep] = []
        if kind == "free":
            steps.append(
                _step(
                    plan.rule, plan.final_source, cv_text, plan.free_rate_text, None, _amount(ZERO, currency)
                )
            )
        if av is not None:
            final = last == "ad_valorem"
            steps.append(
                _step(
                    plan.rule,
                    plan.final_source if final else plan.source,
                    cv_text,
                    plan.av_rate_text,
                    None,
                    _result(av, duty_amount, currency) if final else _amount(av, currency),
                )
            )
        if sp is not None:
            assert foreign is not None and q is not None
            final = last == "specific"
            steps.append(
                _step(
                    plan.rule,
                    plan.final_source if final else plan.source,
                    f"{_quantity_text(q)} {quantity_unit(plan.unit)}",
                    plan.sp_rate_text,
                    plan.conversion,
                    f"{_amount(foreign, plan.foreign_currency)} = "
                    + (_result(sp, duty_amount, currency) if final else _amount(sp, currency)),
                )
            )
        if kind == "combined_max" or kind == "combined_sum":
            assert av is not None and sp is not None
            final = regime is None
            if kind == "combined_max":
                which = "ad valorem" if av >= sp else "specific minimum"
                step_rule = f"{plan.rule}: the greater applies ({which})"
                base = f"{_amount(av, currency)} vs {_amount(sp, currency)}"
            else:
                step_rule = f"{plan.rule}: the sum applies"
                base = f"{_amount(av, currency)} + {_amount(sp, currency)}"
            steps.append(
                _step(
                    step_rule,
                    plan.final_source if final else plan.source,
                    base,
                    plan.rate_text,
                    None,
                    _result(before_preference, duty_amount, currency)
                    if final
                    else _amount(before_preference, currency),
                )
            )
        if regime is not None:
            steps.append(
                _step(
                    plan.pref_rule,
                    plan.pref_source,
                    f"origin {item.origin}: {_amount(before_preference, currency)}",
                    plan.pref_rate_text,
                    None,
                    _result(duty_raw, duty_amount, currency),
                )
            )
        duty_steps = tuple(steps)
        duty_text = _amount(duty_amount, currency)
    duty = _charge("duty", duty_amount, currency, duty_steps)

    excise = plan.not_excisable
    if excise is None:
        assert plan.excise_rate is not None and plan.excise_texts is not None
        found = _excise_charge(item, plan.excise_rate, plan.excise_texts, currency)
        if isinstance(found, FieldError):
            return None
        excise = found

    excise_amount = excise.amount
    base_amount = cv + duty_amount + excise_amount
    vat_raw = base_amount * plan.vat_fraction
    vat_amount = vat_raw.quantize(CENT, rounding=ROUND_HALF_UP)
    excise_text = plan.zero_text if excise is plan.not_excisable else _amount(excise_amount, currency)
    vat_step = _step(
        plan.vat_rule,
        plan.vat_source,
        f"{cv_text} + duty {duty_text} + excise {excise_text} = {_amount(base_amount, currency)}",
        plan.vat_rate_text,
        None,
        _result(vat_raw, vat_amount, currency),
    )
    return _item_assessment(item.number, duty, excise, _charge("vat", vat_amount, currency, (vat_step,)))
