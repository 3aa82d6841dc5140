"""The reference catalog: the shipped data files are complete and coherent, and the lookups behave."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from tamga.reference.catalog import (
    DATA_FILES,
    OFFICE_KINDS,
    OFFICE_ROLES,
    TRANSIT_ROLES,
    Catalog,
    MissingRate,
    load_catalog,
    normalize_hs_code,
    read_documents,
)

# (lat min, lat max, lon min, lon max); Russia's eastern tip crosses 180 degrees.
BOUNDS = {
    "BY": [(51.2, 56.2, 23.1, 32.8)],
    "RU": [(41.1, 81.9, 19.6, 180.0), (64.0, 72.0, -180.0, -168.9)],
}
SUPPLEMENTARY_UNITS = {None, "l", "pcs", "pairs", "m2", "m3", "1000 pcs", "1000 m3"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_load_catalog_is_built_once() -> None:
    assert load_catalog() is load_catalog()


def test_every_file_tells_its_version_and_source(catalog: Catalog) -> None:
    sources = catalog.sources()
    assert set(sources) == set(DATA_FILES)
    for version, source in sources.values():
        assert version and source


def test_illustrative_data_says_so_in_its_notes() -> None:
    documents = read_documents()
    for name in ("customs_offices", "hs_codes"):
        assert "illustrative" in documents[name]["notes"]
    assert "not the tariff line" in documents["transit_estimate_rates"]["notes"]


def test_countries(catalog: Catalog) -> None:
    assert len(catalog.countries()) == 249
    russia = catalog.country("ru")
    assert russia is not None
    assert (russia.alpha3, russia.numeric, russia.name_ru) == ("RUS", "643", "Россия")
    assert russia.eaeu_member
    assert catalog.country("BLR") == catalog.country("112") == catalog.country("BY")
    europe = ("DE", "PL", "LT", "LV", "UA", "IT", "FR", "NL")
    for code in (*europe, "CN", "TR", "KZ", "US", "JP", "KR", "IN", "UZ", "AM", "KG"):
        country = catalog.country(code)
        assert country is not None and country.name_ru and country.name_be
    assert catalog.country("XX") is None


def test_regions(catalog: Catalog) -> None:
    assert len(catalog.regions("RU")) == 83
    belarus = catalog.regions("BY")
    assert len(belarus) == 7
    assert all(r.name_ru and r.name_be for r in belarus)
    for code in ("MOW", "MOS", "SPE", "LEN", "SMO", "PSK", "BRY", "KGD", "KLU", "TVE", "KRS"):
        region = catalog.region(f"RU-{code}")
        assert region is not None and region.name_ru and region.country == "RU"
    smolensk = catalog.region("ru-smo")
    assert smolensk is not None and smolensk.name_ru == "Смоленская область"
    assert catalog.region("RU-XXX") is None


def test_currencies(catalog: Catalog) -> None:
    minor = {"JPY": 0, "KRW": 0, "BYN": 2, "RUB": 2, "USD": 2, "EUR": 2, "CNY": 2, "KWD": 3, "BHD": 3}
    minor["XAU"] = None
    for code, units in minor.items():
        currency = catalog.currency(code)
        assert currency is not None and currency.minor_units == units, code
    assert catalog.currency("643") == catalog.currency("rub")
    assert catalog.currency("RUR") is None


def test_offices_are_complete_and_well_formed(catalog: Catalog) -> None:
    offices = catalog.offices()
    assert len(offices) >= 25
    assert len({o.code for o in offices}) == len(offices)
    for o in offices:
        assert o.country in ("RU", "BY"), o.code
        assert o.code.isdigit() and len(o.code) == (8 if o.country == "RU" else 5), o.code
        assert o.role in OFFICE_ROLES and o.kind in OFFICE_KINDS, o.code
        assert o.roles and o.roles <= TRANSIT_ROLES, o.code
        assert all(o.name(lang) for lang in ("ru", "be", "en")), o.code
        assert any(
            lat_lo <= o.lat <= lat_hi and lon_lo <= o.lon <= lon_hi
            for lat_lo, lat_hi, lon_lo, lon_hi in BOUNDS[o.country]
        ), o.code
        region = catalog.region(o.region)
        assert region is not None and region.country == o.country, o.code
        if o.role == "border":
            assert "border" in o.roles, o.code
            assert o.border_with and o.border_with != o.country and catalog.country(o.border_with), o.code
        else:
            assert o.border_with is None, o.code


def test_offices_cover_the_main_corridors(catalog: Catalog) -> None:
    names = " | ".join(o.name_en for o in catalog.offices())
    for place in (
        "Kozlovichi", "Warsaw Bridge", "Kamenny Log", "Benyakoni", "Grigorovschina", "Urbany", "Peschatka",
        "Bruzgi", "Minsk", "Vitebsk", "Orsha", "Gomel", "Grodno", "Mogilev", "Smolensk", "Krasnoye",
        "Moscow", "Kaliningrad", "Chernyshevskoye", "Bagrationovsk", "Pskov", "Ubylinka", "Burachki",
        "Bryansk", "Saint Petersburg",
    ):  # fmt: skip
        assert place in names, place
    assert {o.border_with for o in catalog.offices("BY", "border") if o.customs_control} == {"PL", "LT", "LV"}
    assert catalog.offices("RU", "destination")
    assert catalog.offices("BY", "departure")


def test_the_union_line_has_no_customs_control(catalog: Catalog) -> None:
    line = [o for o in catalog.offices() if o.on_union_line]
    assert {o.country for o in line} == {"RU", "BY"}
    for o in line:
        assert not o.customs_control and o.kind == "notification_point" and o.role == "border"
    assert all(o.customs_control for o in catalog.offices() if not o.on_union_line)


def test_hs_nomenclature(catalog: Catalog) -> None:
    smartphones = catalog.hs6("8517.13")
    assert smartphones is not None and smartphones.chapter == "85" and smartphones.section == "XVI"
    chapter = catalog.hs_chapter("85")
    assert chapter is not None and chapter.section == "XVI"
    assert len(read_documents()["hs_codes"]["hs6"]) > 5000
    assert catalog.hs6("999999") is None


def test_every_eaeu_subheading_extends_a_known_hs6(catalog: Catalog) -> None:
    subheadings = catalog.subheadings()
    assert len(subheadings) >= 60
    assert len({s.hs6[:2] for s in subheadings}) >= 30
    for s in subheadings:
        assert len(s.code) == 10 and s.code.isdigit(), s.code
        assert catalog.hs6(s.hs6) is not None, s.code
        assert s.description_en and s.description_ru, s.code
        assert s.unit in SUPPLEMENTARY_UNITS, s.code
    beer = catalog.subheading("2203 00 010 0")
    assert beer is not None and beer.unit == "l"


@pytest.mark.parametrize(
    ("code", "known"),
    [
        ("851713", True),
        ("8517 13 000 0", True),  # listed EAEU subheading
        ("8517130099", True),  # not listed, but 851713 is an HS 2022 subheading
        ("8471.30", True),
        ("851700", False),
        ("9999999999", False),
        ("85", False),
        ("8517", False),
        ("85171300000", False),
        ("abcdef", False),
        ("", False),
    ],
)
def test_is_known_hs_code(catalog: Catalog, code: str, known: bool) -> None:
    assert catalog.is_known_hs_code(code) is known


def test_normalize_hs_code() -> None:
    assert normalize_hs_code(" 8517.13-000 0") == "8517130000"
    with pytest.raises(ValueError):
        normalize_hs_code("85x7")


def test_vat(catalog: Catalog) -> None:
    assert catalog.vat_percent("RU", date(2025, 12, 31)) == Decimal(20)
    assert catalog.vat_percent("RU", date(2026, 1, 1)) == Decimal(22)
    assert catalog.vat_percent("RU", date(2026, 1, 1), reduced=True) == Decimal(10)
    assert catalog.vat_percent("BY", date(2026, 6, 1)) == Decimal(20)
    assert catalog.vat_percent("by", date(2025, 12, 31)) == Decimal(20)
    with pytest.raises(MissingRate):
        catalog.vat_percent("RU", date(2003, 12, 31))
    with pytest.raises(MissingRate):
        catalog.vat_percent("KZ", date(2026, 1, 1))


def test_duty_estimate(catalog: Catalog) -> None:
    assert catalog.duty_estimate_percent("8517130000") == Decimal(0)  # heading override
    assert catalog.duty_estimate_percent("2203000100") == Decimal(15)
    assert catalog.duty_estimate_percent("87") == Decimal(15)
    assert catalog.duty_estimate_percent("9999999999") == Decimal(10)  # no chapter 99: the default
    assert all(isinstance(catalog.duty_estimate_percent(s.code), Decimal) for s in catalog.subheadings())
    with pytest.raises(ValueError):
        catalog.duty_estimate_percent("8")


def test_records_are_frozen(catalog: Catalog) -> None:
    office = catalog.offices()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        office.code = "00000"  # type: ignore[misc]
