"""The tariff engine's rule book: the bundled, sourced, effective-dated tables as plain values.

Read once from `clearance/data/*.json` (each file `{"version", "source", "notes", ...}`); no database, no
network. The arithmetic lives in `clearance.tariff`; this module only says which rule is in force.

| file | what | illustrative (not read in a publication for tamga) |
|---|---|---|
| `tariff_cct.json` | 60 ten-digit lines of the EAEU Common Customs Tariff (Decision of the EEC Council No. 80 of 14.09.2021): ad valorem, specific (EUR per kg, l, pair, cm3), combined ("X %, but not less than Y EUR" and "X % plus Y EUR"), free; each with the page its rate was read from | 10 lines, flagged (ITA goods, beer, wine, vodka, cigarettes, a car) |
| `tariff_preferences.json` | the EAEU unified system of tariff preferences: DEV (75 % of the rate), LDC (exempt), their countries and eligible goods | the country and goods lists (a selection) |
| `excise.json` | RU excise 2025 and 2026 (beer, wines, sparkling wines, spirits over 18 %, cigarettes: combined) and cars by hp; BY beer and spirits | RU cars; BY amounts |
| `vat.json` | RU 18 % / 20 % / 22 % (from 01.01.2026) and 10 %; BY 20 % and 10 %; the reduced lists; the rounding rule | the reduced lists (HS prefixes) |
| `customs_fees.json` | RU Decree No. 1637 of 28.11.2024 (2025) and as amended by No. 1638 of 23.10.2025 (imports from 2026); BY Decree No. 443 (50 BYN, 120 BYN for chapter 33) | RU steps not published in what was read (flagged per step) |
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

DutyKind = Literal["ad_valorem", "specific", "combined_max", "combined_sum", "free"]
ExciseKind = Literal["per_unit", "per_1000pcs_plus_percent_min", "per_hp_band"]

DATA_FILES = ("tariff_cct.json", "tariff_preferences.json", "excise.json", "vat.json", "customs_fees.json")


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _dec(text: Any) -> Decimal | None:
    return None if text is None else Decimal(str(text))


def _covers(valid_from: date, valid_to: date | None, day: date) -> bool:
    return valid_from <= day and (valid_to is None or day <= valid_to)


def plain_number(value: Decimal) -> str:
    """Give a rate as people write it: no exponent, no trailing zeros (12.5, 0.018, 1067)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_PER_UNIT = {"l_alc": "l of pure alcohol", "pairs": "pair", "pcs": "piece", "1000pcs": "1000 pcs"}
_QUANTITY = {"l_alc": "l of pure alcohol", "1000pcs": "x 1000 pcs"}


def per_unit(unit: str | None) -> str:
    """Give a unit as a rate names it: EUR/kg, EUR/pair, RUB/l of pure alcohol."""
    return _PER_UNIT.get(unit or "", unit or "")


def quantity_unit(unit: str | None) -> str:
    """Give a unit as a quantity names it: 1200 pairs, 400 l of pure alcohol, 500 x 1000 pcs."""
    return _QUANTITY.get(unit or "", unit or "")


def spaced_code(code: str) -> str:
    """Give a ten-digit code in the tariff's own layout: 2204 21 060 0."""
    return f"{code[:4]} {code[4:6]} {code[6:9]} {code[9:]}"


@dataclass(frozen=True, slots=True)
class DutyRate:
    """One import duty rate of a tariff line and the period it is in force (both ends inclusive)."""

    valid_from: date
    valid_to: date | None
    kind: DutyKind
    percent: Decimal | None  # ad valorem part, percent of the customs value
    specific: Decimal | None  # specific part, in `currency` per `unit`
    currency: str | None
    unit: str | None  # a key of TariffItem.quantities: kg, l, l_alc, pcs, cm3, 1000pcs ...
    source: str

    def covers(self, day: date) -> bool:
        return _covers(self.valid_from, self.valid_to, day)

    @property
    def text(self) -> str:
        """Give the rate as the tariff prints it: `12.5 % but not less than 0.25 EUR/l`."""
        if self.kind == "free":
            return "0 % (free)"
        av = f"{plain_number(self.percent)} %" if self.percent is not None else ""
        sp = (
            f"{plain_number(self.specific)} {self.currency}/{per_unit(self.unit)}"
            if self.specific is not None
            else ""
        )
        if self.kind == "ad_valorem":
            return av
        if self.kind == "specific":
            return sp
        if self.kind == "combined_max":
            return f"{av} but not less than {sp}"
        return f"{av} plus {sp}"


@dataclass(frozen=True, slots=True)
class TariffLine:
    """A ten-digit line of the EAEU Common Customs Tariff with its effective-dated rates."""

    code: str
    description: str
    rates: tuple[DutyRate, ...]
    source: str
    illustrative: bool

    def rate_on(self, day: date) -> DutyRate | None:
        for rate in self.rates:
            if rate.covers(day):
                return rate
        return None


@dataclass(frozen=True, slots=True)
class PreferenceRegime:
    """A tariff preference: the share of the base rate that applies, to whom and to which goods."""

    code: str
    name: str
    factor: Decimal  # 0.75 for developing countries, 0 for least developed ones
    valid_from: date
    valid_to: date | None
    countries: frozenset[str]
    eligible_prefixes: tuple[str, ...]  # HS prefixes of the list of goods that may have the preference
    source: str
    goods_source: str

    def covers(self, day: date) -> bool:
        return _covers(self.valid_from, self.valid_to, day)

    def goods_eligible(self, code: str) -> bool:
        return code.startswith(self.eligible_prefixes)


@dataclass(frozen=True, slots=True)
class PowerBand:
    """Excise per horsepower for engines above `above_hp` and up to `up_to_hp` (None: no ceiling)."""

    above_hp: Decimal
    up_to_hp: Decimal | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ExciseRate:
    """One excise rate of a state, in its national currency, for a period (both ends inclusive)."""

    valid_from: date
    valid_to: date | None
    kind: ExciseKind
    amount: Decimal | None  # per `unit` (per_unit) or per 1000 pieces (cigarettes)
    unit: str | None
    percent: Decimal | None  # cigarettes: percent of the estimated (retail) value
    minimum: Decimal | None  # cigarettes: not less than this per 1000 pieces
    bands: tuple[PowerBand, ...]
    source: str

    def covers(self, day: date) -> bool:
        return _covers(self.valid_from, self.valid_to, day)


@dataclass(frozen=True, slots=True)
class ExciseLine:
    """Excisable goods of one state, recognised by their HS prefixes."""

    state: str
    name: str
    prefixes: tuple[str, ...]
    rates: tuple[ExciseRate, ...]
    illustrative: bool

    def rate_on(self, day: date) -> ExciseRate | None:
        for rate in self.rates:
            if rate.covers(day):
                return rate
        return None


@dataclass(frozen=True, slots=True)
class VatRate:
    """The standard and reduced VAT of a state for a period (both ends inclusive)."""

    valid_from: date
    valid_to: date | None
    standard: Decimal
    reduced: Decimal
    source: str

    def covers(self, day: date) -> bool:
        return _covers(self.valid_from, self.valid_to, day)


@dataclass(frozen=True, slots=True)
class ReducedVatList:
    """Goods a state taxes at its reduced VAT rate on import, by HS prefix."""

    state: str
    prefixes: tuple[str, ...]
    source: str
    illustrative: bool

    def lists(self, code: str) -> bool:
        return code.startswith(self.prefixes)


@dataclass(frozen=True, slots=True)
class FeeStep:
    """The fee for a declaration whose total customs value is at most `up_to` (None: no ceiling)."""

    up_to: Decimal | None
    amount: Decimal
    checked: bool  # False: the amount was not read in a publication (illustrative)


@dataclass(frozen=True, slots=True)
class FeeScale:
    """A state's customs fee per declaration for a period: a value scale, or one flat amount."""

    state: str
    directions: frozenset[str]
    valid_from: date
    valid_to: date | None
    steps: tuple[FeeStep, ...]  # ascending; the last has up_to None
    chapter_amounts: Mapping[str, Decimal]  # goods chapters with their own amount (BY)
    source: str

    def covers(self, day: date) -> bool:
        return _covers(self.valid_from, self.valid_to, day)

    def step_for(self, value: Decimal) -> tuple[int, FeeStep]:
        for index, step in enumerate(self.steps):
            if step.up_to is None or value <= step.up_to:
                return index, step
        raise AssertionError("a fee scale ends with an open step")


@dataclass(frozen=True, slots=True)
class RuleBook:
    """Every table the tariff engine reads, indexed for lookups."""

    lines: Mapping[str, TariffLine]
    preferences: Mapping[str, PreferenceRegime]
    excise: Mapping[str, tuple[ExciseLine, ...]]  # by state
    vat: Mapping[str, tuple[VatRate, ...]]  # by state
    reduced_vat: Mapping[str, ReducedVatList]  # by state
    fees: Mapping[str, tuple[FeeScale, ...]]  # by state
    rounding: Mapping[str, str]  # by state: the rule and its source
    sources: Mapping[str, tuple[str, str]]  # file -> (version, source)

    def excise_line(self, state: str, code: str) -> ExciseLine | None:
        for line in self.excise.get(state, ()):
            if code.startswith(line.prefixes):
                return line
        return None

    def vat_on(self, state: str, day: date) -> VatRate | None:
        for rate in self.vat.get(state, ()):
            if rate.covers(day):
                return rate
        return None

    def fee_scale(self, state: str, direction: str, day: date) -> FeeScale | None:
        for scale in self.fees.get(state, ()):
            if direction in scale.directions and scale.covers(day):
                return scale
        return None


def _duty_rate(e: Mapping[str, Any], default_source: str) -> DutyRate:
    valid_from = _day(e["from"])
    assert valid_from is not None
    return DutyRate(
        valid_from=valid_from,
        valid_to=_day(e.get("to")),
        kind=e["kind"],
        percent=_dec(e.get("percent")),
        specific=_dec(e.get("specific")),
        currency=e.get("currency"),
        unit=e.get("unit"),
        source=e.get("source", default_source),
    )


def _tariff_lines(doc: Mapping[str, Any]) -> dict[str, TariffLine]:
    lines: dict[str, TariffLine] = {}
    for e in doc["lines"]:
        source = e.get("source", doc["source"])
        rates = tuple(sorted((_duty_rate(r, source) for r in e["rates"]), key=lambda r: r.valid_from))
        lines[e["code"]] = TariffLine(
            code=e["code"],
            description=e["description"],
            rates=rates,
            source=source,
            illustrative=bool(e.get("illustrative", False)),
        )
    return lines


def _preferences(doc: Mapping[str, Any]) -> dict[str, PreferenceRegime]:
    regimes: dict[str, PreferenceRegime] = {}
    for e in doc["regimes"]:
        valid_from = _day(e["from"])
        assert valid_from is not None
        regimes[e["code"]] = PreferenceRegime(
            code=e["code"],
            name=e["name"],
            factor=Decimal(e["factor"]),
            valid_from=valid_from,
            valid_to=_day(e.get("to")),
            countries=frozenset(e["countries"]),
            eligible_prefixes=tuple(doc["eligible_goods"]["prefixes"]),
            source=e["source"],
            goods_source=doc["eligible_goods"]["source"],
        )
    return regimes


def _excise_rate(e: Mapping[str, Any]) -> ExciseRate:
    valid_from = _day(e["from"])
    assert valid_from is not None
    bands = tuple(
        PowerBand(
            above_hp=Decimal(b["above_hp"]), up_to_hp=_dec(b.get("up_to_hp")), amount=Decimal(b["amount"])
        )
        for b in e.get("bands", ())
    )
    return ExciseRate(
        valid_from=valid_from,
        valid_to=_day(e.get("to")),
        kind=e["kind"],
        amount=_dec(e.get("amount")),
        unit=e.get("unit"),
        percent=_dec(e.get("percent")),
        minimum=_dec(e.get("minimum")),
        bands=bands,
        source=e["source"],
    )


def _excise(doc: Mapping[str, Any]) -> dict[str, tuple[ExciseLine, ...]]:
    by_state: dict[str, list[ExciseLine]] = {}
    for e in doc["lines"]:
        line = ExciseLine(
            state=e["state"],
            name=e["name"],
            prefixes=tuple(e["prefixes"]),
            rates=tuple(sorted((_excise_rate(r) for r in e["rates"]), key=lambda r: r.valid_from)),
            illustrative=bool(e.get("illustrative", False)),
        )
        by_state.setdefault(line.state, []).append(line)
    # the longest prefix wins, so a specific line can carve an exception out of a broad one
    return {
        state: tuple(sorted(lines, key=lambda line: -max(len(p) for p in line.prefixes)))
        for state, lines in by_state.items()
    }


def _vat(doc: Mapping[str, Any]) -> tuple[dict[str, tuple[VatRate, ...]], dict[str, ReducedVatList]]:
    rates: dict[str, tuple[VatRate, ...]] = {}
    reduced: dict[str, ReducedVatList] = {}
    for state, e in doc["states"].items():
        periods: list[VatRate] = []
        for p in e["periods"]:
            valid_from = _day(p["from"])
            assert valid_from is not None
            periods.append(
                VatRate(
                    valid_from=valid_from,
                    valid_to=_day(p.get("to")),
                    standard=Decimal(p["standard"]),
                    reduced=Decimal(p["reduced"]),
                    source=p["source"],
                )
            )
        rates[state] = tuple(periods)
        lst = e["reduced_list"]
        reduced[state] = ReducedVatList(
            state=state,
            prefixes=tuple(lst["prefixes"]),
            source=lst["source"],
            illustrative=bool(lst.get("illustrative", False)),
        )
    return rates, reduced


def _fees(doc: Mapping[str, Any]) -> dict[str, tuple[FeeScale, ...]]:
    by_state: dict[str, list[FeeScale]] = {}
    for e in doc["scales"]:
        valid_from = _day(e["from"])
        assert valid_from is not None
        steps = tuple(
            FeeStep(
                up_to=_dec(s.get("up_to")), amount=Decimal(s["amount"]), checked=bool(s.get("checked", False))
            )
            for s in e["steps"]
        )
        if steps[-1].up_to is not None:
            raise ValueError(f"fee scale of {e['state']} from {e['from']} must end with an open step")
        by_state.setdefault(e["state"], []).append(
            FeeScale(
                state=e["state"],
                directions=frozenset(e["directions"]),
                valid_from=valid_from,
                valid_to=_day(e.get("to")),
                steps=steps,
                chapter_amounts={k: Decimal(v) for k, v in e.get("chapter_amounts", {}).items()},
                source=e["source"],
            )
        )
    return {state: tuple(scales) for state, scales in by_state.items()}


def read_documents() -> dict[str, dict[str, Any]]:
    """Give the bundled tariff data files, parsed."""
    folder = resources.files("tamga.clearance") / "data"
    return {name: json.loads((folder / name).read_text(encoding="utf-8")) for name in DATA_FILES}


def build_rule_book(documents: Mapping[str, Mapping[str, Any]]) -> RuleBook:
    """Give the rule book for parsed data files (the tests build variants of it)."""
    vat, reduced = _vat(documents["vat.json"])
    return RuleBook(
        lines=_tariff_lines(documents["tariff_cct.json"]),
        preferences=_preferences(documents["tariff_preferences.json"]),
        excise=_excise(documents["excise.json"]),
        vat=vat,
        reduced_vat=reduced,
        fees=_fees(documents["customs_fees.json"]),
        rounding=dict(documents["vat.json"]["rounding"]),
        sources={name: (doc["version"], doc["source"]) for name, doc in documents.items()},
    )


@cache
def load_rule_book() -> RuleBook:
    """Give the rule book of the bundled data files (read once)."""
    return build_rule_book(read_documents())


def tariff_lines(book: RuleBook | None = None) -> Sequence[TariffLine]:
    """Give every tariff line of the table, in code order."""
    book = book or load_rule_book()
    return tuple(book.lines[c] for c in sorted(book.lines))


def codes_with_prefix(prefixes: Iterable[str], book: RuleBook | None = None) -> tuple[str, ...]:
    """Give the table's codes that start with any of the prefixes."""
    book = book or load_rule_book()
    wanted = tuple(prefixes)
    return tuple(c for c in sorted(book.lines) if c.startswith(wanted))
