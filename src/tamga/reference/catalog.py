"""The reference catalog: countries, regions, currencies, customs offices, HS codes, duty estimates and VAT rates.

Pure lookups over the versioned JSON files of `tamga/reference/data` (read once through importlib.resources):
no database, no network. Every rate is a Decimal and every rate has an effective date. Exchange rates
are not here: they are imported into the database (`tamga.rates`), as the banks publish them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files
from typing import Any, Final, Literal, cast

Authority = Literal["CBR", "NBRB"]
OfficeRole = Literal["border", "inland", "destination"]
TransitRole = Literal["departure", "transit", "destination", "border"]
OfficeKind = Literal["customs_house", "customs_post", "border_post", "notification_point"]

AUTHORITY_BASE: Final[Mapping[str, str]] = {"CBR": "RUB", "NBRB": "BYN"}
# Whose rate applies in each state: the importing state's central bank (EAEU Treaty, Annex 18).
AUTHORITY_OF_STATE: Final[Mapping[str, Authority]] = {"RU": "CBR", "BY": "NBRB"}
# Each Union state's currency: duties and taxes are assessed and paid in it.
NATIONAL_CURRENCY: Final[Mapping[str, str]] = {"RU": "RUB", "BY": "BYN"}
OFFICE_ROLES: Final = frozenset({"border", "inland", "destination"})
TRANSIT_ROLES: Final = frozenset({"departure", "transit", "destination", "border"})
OFFICE_KINDS: Final = frozenset({"customs_house", "customs_post", "border_post", "notification_point"})
# A published rate stays in force over weekends and holidays; past this it is stale, not "in force".
MAX_RATE_AGE: Final = timedelta(days=10)

DATA_FILES: Final = (
    "countries",
    "regions",
    "currencies",
    "customs_offices",
    "hs_codes",
    "transit_estimate_rates",
)


class MissingRate(LookupError):
    """No VAT rate is in force for the asked day."""


@dataclass(frozen=True, slots=True)
class Country:
    """An ISO 3166-1 country with its names in the platform's three languages."""

    alpha2: str
    alpha3: str
    numeric: str
    name_en: str
    name_ru: str
    name_be: str
    eaeu_member: bool


@dataclass(frozen=True, slots=True)
class Region:
    """An ISO 3166-2 subdivision of Russia or Belarus."""

    code: str
    country: str
    name_en: str
    name_ru: str | None
    name_be: str | None
    type: str


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency; minor_units is None where ISO says N.A. (metals, funds)."""

    code: str
    numeric: str
    name: str
    name_ru: str | None
    minor_units: int | None


@dataclass(frozen=True, slots=True)
class CustomsOffice:
    """A customs office of Russia or Belarus, or a notification point on the Russia-Belarus line."""

    code: str
    country: str
    kind: OfficeKind
    role: OfficeRole
    roles: frozenset[TransitRole]
    name_ru: str
    name_be: str
    name_en: str
    lat: float
    lon: float
    region: str
    border_with: str | None
    customs_control: bool
    illustrative: bool

    def name(self, language: str) -> str:
        """Give the office's name in `ru`, `be` or `en` (English for any other language)."""
        return {"ru": self.name_ru, "be": self.name_be}.get(language, self.name_en)

    @property
    def on_union_line(self) -> bool:
        """True for a point on the Russia-Belarus line, where there is no customs control."""
        return {self.country, self.border_with} == {"RU", "BY"}


@dataclass(frozen=True, slots=True)
class HsHeading:
    """A six-digit HS 2022 subheading."""

    code: str
    description: str
    section: str
    chapter: str


@dataclass(frozen=True, slots=True)
class HsChapter:
    """A two-digit HS 2022 chapter."""

    chapter: str
    description: str
    section: str


@dataclass(frozen=True, slots=True)
class EaeuSubheading:
    """A ten-digit EAEU CN FEA (ТН ВЭД ЕАЭС) subheading used by the platform."""

    code: str
    description_en: str
    description_ru: str
    unit: str | None
    illustrative: bool

    @property
    def hs6(self) -> str:
        return self.code[:6]


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """A central bank's official rate: `rate` units of `base` for `nominal` units of `currency`."""

    date: date
    authority: Authority
    base: str
    currency: str
    nominal: int
    rate: Decimal
    illustrative: bool

    @property
    def per_unit(self) -> Decimal:
        """Give the units of base for one unit of the currency (unrounded)."""
        return self.rate / self.nominal


@dataclass(frozen=True, slots=True)
class VatPeriod:
    """A VAT rate in force from `start` to `end` inclusive (`end` None: still in force)."""

    start: date
    end: date | None
    percent: Decimal
    reduced_percent: Decimal | None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def normalize_hs_code(code: str) -> str:
    """Give the code's digits without the spaces, dots and dashes people write in it (`8517 13 000 0`)."""
    digits = code.replace(" ", "").replace(".", "").replace("-", "").replace("\u00a0", "")
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"not an HS code: {code!r}")
    return digits


class Catalog:
    """Lookups over the reference data; build it with `load_catalog()` (or `Catalog(documents)` in tests).

    Lookups by code return None for an unknown code; codes are matched case-insensitively.
    """

    def __init__(self, documents: Mapping[str, Mapping[str, Any]]) -> None:
        self._sources = {
            name: (str(documents[name]["version"]), str(documents[name]["source"])) for name in DATA_FILES
        }
        self._countries = _countries(documents["countries"]["entries"])
        self._country_index: dict[str, Country] = {}
        for c in self._countries.values():
            self._country_index.update({c.alpha2: c, c.alpha3: c, c.numeric: c})
        self._regions = {r.code: r for r in map(_region, documents["regions"]["entries"])}
        self._currencies = {c.code: c for c in map(_currency, documents["currencies"]["entries"])}
        self._currency_index = {**self._currencies, **{c.numeric: c for c in self._currencies.values()}}
        self._offices = {o.code: o for o in map(_office, documents["customs_offices"]["entries"])}
        hs = documents["hs_codes"]
        self._hs6 = {h.code: h for h in map(_hs_heading, hs["hs6"])}
        self._chapters = {c.chapter: c for c in map(_hs_chapter, hs["chapters"])}
        self._subheadings = {s.code: s for s in map(_subheading, hs["eaeu_subheadings"])}
        estimates = documents["transit_estimate_rates"]
        self._default_duty = Decimal(estimates["default_duty_percent"])
        self._chapter_duty = {
            e["chapter"]: Decimal(e["duty_ad_valorem_percent"]) for e in estimates["entries"]
        }
        self._heading_duty = {
            e["heading"]: Decimal(e["duty_ad_valorem_percent"])
            for e in estimates.get("heading_overrides", [])
        }
        self._vat = {country: _vat_periods(periods) for country, periods in estimates["vat"].items()}

    # -- provenance
    def sources(self) -> dict[str, tuple[str, str]]:
        """Give each data file's (version, source), keyed by file name without `.json`."""
        return dict(self._sources)

    # -- places and money
    def country(self, code: str) -> Country | None:
        """Give the country of an ISO 3166-1 alpha-2, alpha-3 or numeric code."""
        return self._country_index.get(code.strip().upper())

    def countries(self) -> tuple[Country, ...]:
        return tuple(self._countries.values())

    def region(self, code: str) -> Region | None:
        """Give the ISO 3166-2 region (`RU-SMO`, `BY-VI`)."""
        return self._regions.get(code.strip().upper())

    def regions(self, country: str | None = None) -> tuple[Region, ...]:
        """Give the regions, of one country if asked."""
        wanted = country.strip().upper() if country else None
        return tuple(r for r in self._regions.values() if wanted is None or r.country == wanted)

    def currency(self, code: str) -> Currency | None:
        """Give the ISO 4217 currency of an alphabetic or numeric code."""
        return self._currency_index.get(code.strip().upper())

    def currencies(self) -> tuple[Currency, ...]:
        return tuple(self._currencies.values())

    # -- customs offices
    def office(self, code: str) -> CustomsOffice | None:
        """Give the customs office (8 digits in Russia, 5 in Belarus)."""
        return self._offices.get(code.strip())

    def offices(self, country: str | None = None, role: str | None = None) -> tuple[CustomsOffice, ...]:
        """Give the offices, of one country and one transit role (`departure`, `transit`...) if asked."""
        wanted = country.strip().upper() if country else None
        return tuple(
            o
            for o in self._offices.values()
            if (wanted is None or o.country == wanted) and (role is None or role in o.roles)
        )

    # -- goods nomenclature
    def hs6(self, code: str) -> HsHeading | None:
        """Give the six-digit HS 2022 subheading."""
        try:
            return self._hs6.get(normalize_hs_code(code))
        except ValueError:
            return None

    def hs_chapter(self, chapter: str) -> HsChapter | None:
        """Give the HS chapter of two digits (`85`)."""
        return self._chapters.get(chapter.strip().zfill(2))

    def subheading(self, code10: str) -> EaeuSubheading | None:
        """Give the ten-digit EAEU subheading, if the platform lists it."""
        try:
            return self._subheadings.get(normalize_hs_code(code10))
        except ValueError:
            return None

    def subheadings(self) -> tuple[EaeuSubheading, ...]:
        return tuple(self._subheadings.values())

    def is_known_hs_code(self, code: str) -> bool:
        """True for a known HS 2022 six-digit code or a ten-digit code that extends one.

        A ten-digit code counts when the platform lists it or when its first six digits are a known
        HS 2022 subheading: the full EAEU nomenclature (about 13,000 lines) is not shipped, so a national
        subdivision cannot be refuted here, only a code that no HS subheading begins.
        """
        try:
            digits = normalize_hs_code(code)
        except ValueError:
            return False
        if len(digits) == 6:
            return digits in self._hs6
        if len(digits) == 10:
            return digits in self._subheadings or digits[:6] in self._hs6
        return False

    # -- duty estimates and VAT
    def duty_estimate_percent(self, hs_code: str) -> Decimal:
        """Give the ad valorem duty percent to estimate the duty at stake under a transit guarantee.

        An estimate (the chapter's typical rate of the EAEU Common Customs Tariff, or a heading override),
        never the tariff line's rate. Raises ValueError for a code of fewer than two digits.
        """
        digits = normalize_hs_code(hs_code)
        if len(digits) < 2:
            raise ValueError(f"an HS code has at least two digits: {hs_code!r}")
        heading = self._heading_duty.get(digits[:4]) if len(digits) >= 4 else None
        if heading is not None:
            return heading
        return self._chapter_duty.get(digits[:2], self._default_duty)

    def vat_percent(self, country: str, on: date, *, reduced: bool = False) -> Decimal:
        """Give the VAT percent (standard, or reduced if asked) in force in RU or BY on a day."""
        periods = self._vat.get(country.strip().upper())
        if periods is None:
            raise MissingRate(f"no VAT rates for {country!r}")
        for period in periods:
            if period.covers(on):
                if not reduced:
                    return period.percent
                if period.reduced_percent is not None:
                    return period.reduced_percent
                break
        kind = "reduced VAT" if reduced else "VAT"
        raise MissingRate(f"no {kind} rate in force in {country} on {on.isoformat()}")


# -- parsing: one function per record shape, failing loudly on a malformed value


def _countries(entries: Iterable[Mapping[str, Any]]) -> dict[str, Country]:
    return {
        e["alpha2"]: Country(
            alpha2=e["alpha2"],
            alpha3=e["alpha3"],
            numeric=e["numeric"],
            name_en=e["name_en"],
            name_ru=e["name_ru"],
            name_be=e["name_be"],
            eaeu_member=bool(e["eaeu_member"]),
        )
        for e in entries
    }


def _region(e: Mapping[str, Any]) -> Region:
    return Region(e["code"], e["country"], e["name_en"], e.get("name_ru"), e.get("name_be"), e["type"])


def _currency(e: Mapping[str, Any]) -> Currency:
    return Currency(e["code"], e["numeric"], e["name"], e.get("name_ru"), e["minor_units"])


def _office(e: Mapping[str, Any]) -> CustomsOffice:
    roles = frozenset(e["roles"])
    valid = e["role"] in OFFICE_ROLES and e["kind"] in OFFICE_KINDS and roles and roles <= TRANSIT_ROLES
    if not valid:
        raise ValueError(f"customs office {e['code']}: bad role, roles or kind")
    names = e["names"]
    return CustomsOffice(
        code=e["code"],
        country=e["country"],
        kind=e["kind"],
        role=e["role"],
        roles=cast(frozenset[TransitRole], roles),
        name_ru=names["ru"],
        name_be=names["be"],
        name_en=names["en"],
        lat=float(e["lat"]),
        lon=float(e["lon"]),
        region=e["region"],
        border_with=e.get("border_with"),
        customs_control=bool(e.get("customs_control", True)),
        illustrative=bool(e.get("illustrative", False)),
    )


def _hs_heading(e: Mapping[str, Any]) -> HsHeading:
    return HsHeading(e["code"], e["description"], e["section"], e["chapter"])


def _hs_chapter(e: Mapping[str, Any]) -> HsChapter:
    return HsChapter(e["chapter"], e["description"], e["section"])


def _subheading(e: Mapping[str, Any]) -> EaeuSubheading:
    return EaeuSubheading(
        e["code"], e["description_en"], e["description_ru"], e.get("unit"), bool(e.get("illustrative", False))
    )


def _vat_periods(periods: Iterable[Mapping[str, Any]]) -> tuple[VatPeriod, ...]:
    return tuple(
        VatPeriod(
            start=date.fromisoformat(p["from"]),
            end=date.fromisoformat(p["to"]) if p.get("to") else None,
            percent=Decimal(p["percent"]),
            reduced_percent=Decimal(p["reduced_percent"]) if p.get("reduced_percent") else None,
        )
        for p in periods
    )


def read_documents() -> dict[str, dict[str, Any]]:
    """Give the parsed data files shipped in the package, keyed by name without `.json`."""
    data = files("tamga.reference") / "data"
    return {name: json.loads((data / f"{name}.json").read_text(encoding="utf-8")) for name in DATA_FILES}


@functools.cache
def load_catalog() -> Catalog:
    """Give the catalog of the shipped reference data, built once per process."""
    return Catalog(read_documents())
