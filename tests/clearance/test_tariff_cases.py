"""Worked cases of the tariff engine, each from a published rule, computed to the kopeck by hand.

Every expected amount below was worked out by hand from the rule the case cites (the arithmetic is in
the case's comment), not by running the engine. Exchange rates are the caller's (per one unit):
EUR 91.3241 RUB and 92.1130 RUB (sample CBR-style rates), EUR 3.5218 BYN (sample NBRB-style rate).
Cases that rest on an entry the data files flag as illustrative say so in `rule`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tamga.clearance.tariff import (
    Assessment,
    TariffItem,
    assess_items,
    assess_many,
    customs_fee,
)
from tamga.clearance.tariff_rules import build_rule_book, read_documents

D = Decimal
EUR_2025 = {"EUR": D("91.3241")}
EUR_2026 = {"EUR": D("92.1130")}
EUR_BY = {"EUR": D("3.5218")}
JUNE_2025 = date(2025, 6, 16)
JAN_2026 = date(2026, 1, 15)


@dataclass(frozen=True)
class Case:
    name: str
    rule: str  # the published rule (and the source) the expected amounts follow
    state: str
    on: date
    rates: dict[str, Decimal]
    items: tuple[TariffItem, ...]
    expected: tuple[tuple[str, str, str], ...]  # per item: duty, excise, vat
    fee: str
    direction: str = "import"
    book_extra_fee: bool = False  # historical date: the case adds a fee scale (not under test) to the book
    note: str = field(default="")


def item(
    code: str,
    value: str,
    origin: str = "CN",
    preference: str | None = None,
    vat_reduced: bool = False,
    extra: dict[str, str] | None = None,
    **q: str,
) -> TariffItem:
    return TariffItem(
        number=1,
        hs_code=code,
        origin=origin,
        preference=preference,
        customs_value=D(value),
        quantities={k: D(v) for k, v in {**q, **(extra or {})}.items()},
        vat_reduced=vat_reduced,
    )


def numbered(*items: TariffItem) -> tuple[TariffItem, ...]:
    return tuple(
        TariffItem(
            i + 1, it.hs_code, it.origin, it.preference, it.customs_value, it.quantities, it.vat_reduced
        )
        for i, it in enumerate(items)
    )


CASES: list[Case] = [
    # --- ad valorem ------------------------------------------------------------------------------
    Case(
        "ad valorem RU 2025",
        "CCT EAEU 3305 10 000 0 shampoos: 6.5 % (Decision No. 80); VAT 20 % (RU Tax Code art. 164(3))",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("3305100000", "100000.00")),
        # 100000.00 x 6.5 % = 6500.00; VAT (100000.00 + 6500.00) x 20 % = 21300.00; fee up to 200,000: 1067
        (("6500.00", "0.00", "21300.00"),),
        "1067.00",
    ),
    Case(
        "ad valorem RU 2026, VAT 22 %",
        "CCT EAEU 3305 10 000 0: 6.5 %; VAT 22 % from 01.01.2026",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("3305100000", "100000.00")),
        # VAT 106500.00 x 22 % = 23430.00; fee up to 200,000 from 2026: 1231 (Decree 1638)
        (("6500.00", "0.00", "23430.00"),),
        "1231.00",
    ),
    Case(
        "ad valorem 3 % rounded half-up",
        "CCT EAEU 0302 14 000 0 Atlantic salmon fresh: 3 %",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("0302140000", "12345.67")),
        # 12345.67 x 3 % = 370.3701 -> 370.37; VAT (12345.67 + 370.37) = 12716.04 x 20 % = 2543.208 -> 2543.21
        (("370.37", "0.00", "2543.21"),),
        "1067.00",
    ),
    Case(
        "ad valorem 5 % rounded down, VAT 2026",
        "CCT EAEU 0302 51 100 0 cod (Gadus morhua) fresh: 5 %; VAT 22 %",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("0302511000", "54321.09")),
        # 54321.09 x 5 % = 2716.0545 -> 2716.05; VAT 57037.14 x 22 % = 12548.1708 -> 12548.17
        (("2716.05", "0.00", "12548.17"),),
        "1231.00",
    ),
    Case(
        "ad valorem 5 % haddock",
        "CCT EAEU 0302 52 000 0 haddock fresh: 5 %",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("0302520000", "80000.10")),
        # 80000.10 x 5 % = 4000.005 -> 4000.01 (half-up); VAT 84000.11 x 20 % = 16800.022 -> 16800.02
        (("4000.01", "0.00", "16800.02"),),
        "1067.00",
    ),
    Case(
        "free: 0 %",
        "CCT EAEU 1205 10 900 0 low erucic rape seeds, other: 0",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("1205109000", "500000.00")),
        # duty 0.00; VAT 500000.00 x 20 % = 100000.00; fee over 450,000 up to 1.2 mln: 4269
        (("0.00", "0.00", "100000.00"),),
        "4269.00",
    ),
    # --- combined: "X %, but not less than Y EUR per unit" -----------------------------------------
    Case(
        "combined, ad valorem applies",
        "CCT EAEU 2001 10 000 0 cucumbers by vinegar: 12 %, but not less than 0.06 EUR/kg",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2001100000", "100000.00", kg="1000")),
        # av 12000.00; specific 1000 x 0.06 = 60 EUR x 91.3241 = 5479.446; the greater: 12000.00; VAT 22400.00
        (("12000.00", "0.00", "22400.00"),),
        "1067.00",
    ),
    Case(
        "combined, the minimum applies",
        "CCT EAEU 2001 10 000 0: 12 %, but not less than 0.06 EUR/kg",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2001100000", "10000.00", kg="2000")),
        # av 1200; specific 120 EUR x 91.3241 = 10958.892 -> 10958.89; VAT 20958.89 x 20 % = 4191.778 -> 4191.78
        (("10958.89", "0.00", "4191.78"),),
        "1067.00",
    ),
    Case(
        "combined per litre, minimum applies",
        "CCT EAEU 2201 10 110 0 natural mineral water still: 15 %, but not less than 0.07 EUR/l",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2201101100", "20000.00", l="10000")),
        # av 3000; specific 700 EUR x 91.3241 = 63926.87; VAT 83926.87 x 20 % = 16785.374 -> 16785.37
        (("63926.87", "0.00", "16785.37"),),
        "1067.00",
    ),
    Case(
        "combined per litre, 2026",
        "CCT EAEU 2201 10 190 0 natural mineral water, other: 13 %, but not less than 0.061 EUR/l",
        "RU",
        JAN_2026,
        EUR_2025,
        numbered(item("2201101900", "100000.00", l="5000")),
        # av 13000; specific 305 EUR x 91.3241 = 27853.8505 -> 27853.85; VAT 127853.85 x 22 % = 28127.847 -> 28127.85
        (("27853.85", "0.00", "28127.85"),),
        "1231.00",
    ),
    Case(
        "combined per litre, ad valorem applies",
        "CCT EAEU 2202 10 000 0 sweetened waters: 8 %, but not less than 0.02 EUR/l",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2202100000", "50000.00", l="1000")),
        # av 4000; specific 20 EUR = 1826.482; the greater 4000.00; VAT 54000 x 20 % = 10800.00
        (("4000.00", "0.00", "10800.00"),),
        "1067.00",
    ),
    Case(
        "combined per kg, onions",
        "CCT EAEU 2001 90 970 1 onions by vinegar: 15 %, but not less than 0.075 EUR/kg",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2001909701", "8000.00", kg="3000")),
        # av 1200; specific 225 EUR x 91.3241 = 20547.9225 -> 20547.92; VAT 28547.92 x 20 % = 5709.584 -> 5709.58
        (("20547.92", "0.00", "5709.58"),),
        "1067.00",
    ),
    Case(
        "combined, mushrooms 11 %",
        "CCT EAEU 2001 90 500 0 mushrooms by vinegar: 11 %, but not less than 0.05 EUR/kg",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("2001905000", "250000.00", kg="2000")),
        # av 27500; specific 100 EUR x 92.1130 = 9211.30; the greater 27500.00; VAT 277500 x 22 % = 61050.00; fee 2462 (illustrative step)
        (("27500.00", "0.00", "61050.00"),),
        "2462.00",
    ),
    Case(
        "ad valorem 4 %, tobacco",
        "CCT EAEU 2401 20 850 1 stripped flue-cured Virginia tobacco: 4 % (raw tobacco is not excisable)",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("2401208501", "777777.77")),
        # 777777.77 x 4 % = 31111.1108 -> 31111.11; VAT 808888.88 x 22 % = 177955.5536 -> 177955.55; fee 4924 (illustrative step)
        (("31111.11", "0.00", "177955.55"),),
        "4924.00",
    ),
    # --- specific per pair, and "X % plus Y EUR per pair" --------------------------------------------
    Case(
        "specific per pair",
        "CCT EAEU 6405 90 100 0 other footwear, soles of rubber/plastics/leather: 0.34 EUR per pair",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("6405901000", "150000.00", pairs="1200")),
        # 1200 x 0.34 = 408 EUR x 91.3241 = 37260.2328 -> 37260.23; VAT 187260.23 x 20 % = 37452.046 -> 37452.05
        (("37260.23", "0.00", "37452.05"),),
        "1067.00",
    ),
    Case(
        "specific per pair 0.28, BYN",
        "CCT EAEU 6405 10 000 9 leather uppers, other soles: 0.28 EUR per pair; NBRB EUR rate",
        "BY",
        JAN_2026,
        EUR_BY,
        numbered(item("6405100009", "20000.00", pairs="850")),
        # 850 x 0.28 = 238 EUR x 3.5218 = 838.1884 -> 838.19; VAT 20838.19 x 20 % = 4167.638 -> 4167.64
        (("838.19", "0.00", "4167.64"),),
        "50.00",
    ),
    Case(
        "combined: percent plus specific",
        "CCT EAEU 6402 91 900 0: 3.8 % plus 0.43 EUR per pair",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("6402919000", "300000.00", pairs="1000")),
        # 11400 + 430 EUR x 92.1130 = 39608.59 -> 51008.59; VAT 351008.59 x 22 % = 77221.8898 -> 77221.89; fee 2462 (illustrative step)
        (("51008.59", "0.00", "77221.89"),),
        "2462.00",
    ),
    Case(
        "combined per pair, minimum applies",
        "CCT EAEU 6404 19 900 0: 5.2 %, but not less than 0.56 EUR per pair",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("6404199000", "100000.00", pairs="2000")),
        # av 5200; specific 1120 EUR x 91.3241 = 102282.992 -> 102282.99; VAT 202282.99 x 20 % = 40456.598 -> 40456.60
        (("102282.99", "0.00", "40456.60"),),
        "1067.00",
    ),
    # --- specific per cm3 (CCT of the Customs Union 2012 edition, effective-dated) -----------------
    Case(
        "specific per cm3",
        "CCT CU 2012, 8701 20 901 3 used road tractors over 5 years: 2.2 EUR per cm3 (Decision No. 54); VAT 18 %",
        "RU",
        date(2015, 3, 2),
        {"EUR": D("70.5000")},
        numbered(item("8701209013", "3000000.00", cm3="12000")),
        # 12000 x 2.2 = 26400 EUR x 70.50 = 1861200.00; VAT (3000000 + 1861200) x 18 % = 875016.00
        (("1861200.00", "0.00", "875016.00"),),
        "30000.00",
        book_extra_fee=True,
    ),
    Case(
        "combined per cm3, minimum applies",
        "CCT CU 2012, 8701 20 901 7: 30 %, but not less than 2.2 EUR per cm3",
        "RU",
        date(2015, 3, 2),
        {"EUR": D("70.5000")},
        numbered(item("8701209017", "5000000.00", cm3="12000")),
        # av 1500000; specific 1861200.00; the greater 1861200.00; VAT 6861200 x 18 % = 1235016.00
        (("1861200.00", "0.00", "1235016.00"),),
        "30000.00",
        book_extra_fee=True,
    ),
    Case(
        "combined per cm3, ad valorem applies",
        "CCT CU 2012, 8701 20 901 7: 30 %, but not less than 2.2 EUR per cm3",
        "RU",
        date(2015, 3, 2),
        {"EUR": D("70.5000")},
        numbered(item("8701209017", "7000000.00", cm3="12000")),
        # av 2100000 > 1861200; VAT 9100000 x 18 % = 1638000.00
        (("2100000.00", "0.00", "1638000.00"),),
        "30000.00",
        book_extra_fee=True,
    ),
    # --- excise -----------------------------------------------------------------------------------
    Case(
        "beer: specific duty + excise 2025",
        "CCT 2203 00 010 0: 0.018 EUR/l (illustrative entry); RU excise beer 0.5-8.6 %: 30 RUB/l (2025)",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2203000100", "300000.00", l="10000")),
        # duty 180 EUR x 91.3241 = 16438.338 -> 16438.34; excise 300000.00; VAT 616438.34 x 20 % = 123287.668 -> 123287.67
        (("16438.34", "300000.00", "123287.67"),),
        "2134.00",
    ),
    Case(
        "beer 2026",
        "CCT 2203 00 010 0 (illustrative entry); RU excise beer: 33 RUB/l from 01.01.2026; VAT 22 %",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("2203000100", "300000.00", l="10000")),
        # duty 180 x 92.1130 = 16580.34; excise 330000.00; VAT 646580.34 x 22 % = 142247.6748 -> 142247.67
        (("16580.34", "330000.00", "142247.67"),),
        "2462.00",
    ),
    Case(
        "wine: combined minimum + excise 2025",
        "CCT 2204 21 060 0: 12.5 %, but not less than 0.25 EUR/l (illustrative entry); RU excise wines: 113 RUB/l (2025)",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2204210600", "20000.00", l="500")),
        # av 2500; specific 125 EUR x 91.3241 = 11415.5125 -> 11415.51; excise 56500.00; VAT 87915.51 x 20 % = 17583.102 -> 17583.10
        (("11415.51", "56500.00", "17583.10"),),
        "1067.00",
    ),
    Case(
        "wine excise 2026",
        "RU excise wines other than fortified: 148 RUB/l from 01.01.2026",
        "RU",
        JAN_2026,
        EUR_2025,
        numbered(item("2204210600", "20000.00", l="500")),
        # duty as above 11415.51; excise 74000.00; VAT 105415.51 x 22 % = 23191.4122 -> 23191.41
        (("11415.51", "74000.00", "23191.41"),),
        "1231.00",
    ),
    Case(
        "spirits: excise per litre of pure alcohol 2025",
        "CCT 2208 60 110 0: 0.25 EUR/l (illustrative entry); RU excise over 18 %: 740 RUB per l of pure alcohol (2025)",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2208601100", "150000.00", l="1000", l_alc="400")),
        # duty 250 EUR x 91.3241 = 22831.025 -> 22831.03; excise 400 x 740 = 296000.00; VAT 468831.03 x 20 % = 93766.206 -> 93766.21
        (("22831.03", "296000.00", "93766.21"),),
        "1067.00",
    ),
    Case(
        "spirits 2026",
        "RU excise over 18 %: 824 RUB per l of pure alcohol from 01.01.2026; VAT 22 %",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("2208601100", "150000.00", l="1000", l_alc="400")),
        # duty 250 x 92.1130 = 23028.25; excise 329600.00; VAT 502628.25 x 22 % = 110578.215 -> 110578.22
        (("23028.25", "329600.00", "110578.22"),),
        "1231.00",
    ),
    Case(
        "cigarettes: combined excise",
        "RU excise cigarettes 2025: 2945 RUB/1000 pcs + 18 % of the estimated value, not less than 4000 RUB/1000 pcs; CCT 2402 20 900 0 (illustrative entry)",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2402209000", "2000000.00", extra={"1000pcs": "500", "retail_value": "6250000.00"})),
        # duty: av 600000 > 1750 EUR = 159817.175; excise 1472500 + 1125000 = 2597500 > 2000000;
        # VAT (2000000 + 600000 + 2597500) x 20 % = 1039500.00; fee over 1.2 mln up to 2.7 mln: 11746 (illustrative step)
        (("600000.00", "2597500.00", "1039500.00"),),
        "11746.00",
    ),
    Case(
        "cigarettes: excise minimum applies",
        "RU excise cigarettes 2025: ... not less than 4000 RUB per 1000 pcs",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2402209000", "2000000.00", extra={"1000pcs": "500", "retail_value": "2500000.00"})),
        # excise 1472500 + 450000 = 1922500 < 500 x 4000 = 2000000; VAT (2000000 + 600000 + 2000000) x 20 % = 920000.00
        (("600000.00", "2000000.00", "920000.00"),),
        "11746.00",
    ),
    Case(
        "cigarettes 2026",
        "RU excise cigarettes 2026: 3278 RUB/1000 pcs + 18 %, not less than 4452 RUB/1000 pcs",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("2402209000", "2000000.00", extra={"1000pcs": "500", "retail_value": "6250000.00"})),
        # excise 1639000 + 1125000 = 2764000 > 2226000; VAT (2000000 + 600000 + 2764000) x 22 % = 1180080.00; fee 13541 (illustrative step)
        (("600000.00", "2764000.00", "1180080.00"),),
        "13541.00",
    ),
    Case(
        "car: excise by horsepower",
        "CCT 8703 23 198 1: 15 % (illustrative entry); RU excise cars 200-300 hp: 955 RUB/hp (illustrative entry)",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("8703231981", "3000000.00", pcs="1", hp="249")),
        # duty 450000.00; excise 249 x 955 = 237795.00; VAT 3687795 x 20 % = 737559.00; fee 2.7-4.2 mln: 16524 (illustrative step)
        (("450000.00", "237795.00", "737559.00"),),
        "16524.00",
    ),
    Case(
        "car up to 90 hp: no excise",
        "RU excise cars up to 90 hp: 0 RUB/hp (illustrative entry)",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("8703231981", "1000000.00", pcs="1", hp="88")),
        # duty 150000.00; excise 0.00; VAT 1150000 x 20 % = 230000.00
        (("150000.00", "0.00", "230000.00"),),
        "4269.00",
    ),
    # --- preferences ------------------------------------------------------------------------------
    Case(
        "preference DEV: 75 % of the rate",
        "EAEU unified system of tariff preferences: 75 % of the CCT rate for developing countries (list illustrative); 0302 14 000 0: 3 %",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("0302140000", "30000.00", origin="VN", preference="DEV")),
        # 900 x 0.75 = 675.00; VAT 30675 x 20 % = 6135.00
        (("675.00", "0.00", "6135.00"),),
        "1067.00",
    ),
    Case(
        "preference LDC: exempt",
        "EAEU unified system of tariff preferences: least developed countries exempt; 0302 51 100 0: 5 %",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("0302511000", "40000.00", origin="BD", preference="LDC")),
        # duty 2000 x 0 = 0.00; VAT 40000 x 20 % = 8000.00
        (("0.00", "0.00", "8000.00"),),
        "1067.00",
    ),
    Case(
        "preference DEV on a combined rate",
        "75 % of the CCT rate; 2001 90 970 1: 15 %, but not less than 0.075 EUR/kg",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("2001909701", "10000.00", origin="IN", preference="DEV", kg="1000")),
        # av 1500; specific 75 EUR x 91.3241 = 6849.3075; x 0.75 = 5136.980625 -> 5136.98; VAT 15136.98 x 20 % = 3027.396 -> 3027.40
        (("5136.98", "0.00", "3027.40"),),
        "1067.00",
    ),
    # --- reduced VAT ------------------------------------------------------------------------------
    Case(
        "reduced VAT 10 % RU",
        "RU Tax Code art. 164(2)(1): 10 % for foodstuffs on the government list (Decree 908; list illustrative); 0302 51 100 0: 5 %",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("0302511000", "40000.00", vat_reduced=True)),
        # duty 2000.00; VAT 42000 x 10 % = 4200.00 (the reduced rate stays 10 % in 2026)
        (("2000.00", "0.00", "4200.00"),),
        "1231.00",
    ),
    # --- Belarus (BYN) ----------------------------------------------------------------------------
    Case(
        "BY ad valorem, chapter 33 fee",
        "CCT EAEU 3305 10 000 0: 6.5 %; BY VAT 20 % (Tax Code art. 122); BY fee 120 BYN for chapter 33",
        "BY",
        JUNE_2025,
        EUR_BY,
        numbered(item("3305100000", "10000.00")),
        # duty 650.00; VAT 10650 x 20 % = 2130.00
        (("650.00", "0.00", "2130.00"),),
        "120.00",
    ),
    Case(
        "BY combined, minimum applies",
        "CCT EAEU 2001 10 000 0: 12 %, but not less than 0.06 EUR/kg; NBRB EUR rate",
        "BY",
        JUNE_2025,
        EUR_BY,
        numbered(item("2001100000", "500.00", kg="1000")),
        # av 60; specific 60 EUR x 3.5218 = 211.308 -> 211.31; VAT 711.31 x 20 % = 142.262 -> 142.26; fee 50 BYN
        (("211.31", "0.00", "142.26"),),
        "50.00",
    ),
    Case(
        "BY 2026: VAT stays 20 %",
        "CCT EAEU 0302 14 000 0: 3 %; BY VAT 20 %",
        "BY",
        JAN_2026,
        EUR_BY,
        numbered(item("0302140000", "1234.56")),
        # 37.0368 -> 37.04; VAT 1271.60 x 20 % = 254.32
        (("37.04", "0.00", "254.32"),),
        "50.00",
    ),
    Case(
        "BY reduced VAT 10 %",
        "BY Tax Code art. 122(1.4): 10 % for listed foodstuffs (list illustrative); 0302 52 000 0: 5 %",
        "BY",
        JUNE_2025,
        EUR_BY,
        numbered(item("0302520000", "1000.00", vat_reduced=True)),
        # duty 50.00; VAT 1050 x 10 % = 105.00
        (("50.00", "0.00", "105.00"),),
        "50.00",
    ),
    Case(
        "BY beer excise",
        "CCT 2203 00 010 0: 0.018 EUR/l (illustrative entry); BY excise beer 1.05 BYN/l (illustrative entry)",
        "BY",
        JUNE_2025,
        EUR_BY,
        numbered(item("2203000100", "3000.00", l="1000")),
        # duty 18 EUR x 3.5218 = 63.3924 -> 63.39; excise 1050.00; VAT 4113.39 x 20 % = 822.678 -> 822.68
        (("63.39", "1050.00", "822.68"),),
        "50.00",
    ),
    # --- currencies with a nominal of 100 ----------------------------------------------------------
    Case(
        "JPY quoted per 100 (CBR)",
        "CBR quotes JPY per 100: 100 JPY = 58.1234 RUB -> 0.581234 RUB per yen; invoice JPY 1,000,000 -> customs value 581234.00 RUB; 3305 10 000 0: 6.5 %",
        "RU",
        JUNE_2025,
        {"JPY": D("58.1234") / 100},
        numbered(item("3305100000", str((D("1000000") * D("58.1234") / 100).quantize(D("0.01"))))),
        # 581234.00 x 6.5 % = 37780.21; VAT 619014.21 x 20 % = 123802.842 -> 123802.84; fee over 450,000: 4269
        (("37780.21", "0.00", "123802.84"),),
        "4269.00",
    ),
    Case(
        "RUB quoted per 100 (NBRB)",
        "NBRB quotes RUB per 100: 100 RUB = 3.6412 BYN -> 0.036412 BYN per rouble; invoice RUB 250,000 -> 9103.00 BYN; 3305 10 000 0: 6.5 %",
        "BY",
        JUNE_2025,
        {"RUB": D("3.6412") / 100},
        numbered(item("3305100000", str((D("250000") * D("3.6412") / 100).quantize(D("0.01"))))),
        # 9103.00 x 6.5 % = 591.695 -> 591.70; VAT 9694.70 x 20 % = 1938.94; fee chapter 33: 120
        (("591.70", "0.00", "1938.94"),),
        "120.00",
    ),
    Case(
        "specific duty at a rate derived from a nominal-100 quote",
        "CCT 2001 10 000 0 minimum 0.06 EUR/kg converted at a per-unit EUR rate the caller derived from a quote per 100 EUR (100 EUR = 9132.41 RUB)",
        "RU",
        JUNE_2025,
        {"EUR": D("9132.41") / 100},
        numbered(item("2001100000", "10000.00", kg="2000")),
        # per unit 91.3241 (the same as the direct quote): 10958.89 as in the case above
        (("10958.89", "0.00", "4191.78"),),
        "1067.00",
    ),
    # --- several items, export --------------------------------------------------------------------
    Case(
        "two items, one declaration",
        "3305 10 000 0: 6.5 %; 0302 14 000 0: 3 %; the fee on the declaration's total customs value",
        "RU",
        JUNE_2025,
        EUR_2025,
        numbered(item("3305100000", "150000.00"), item("0302140000", "60000.00")),
        # 9750.00 / VAT 31950.00; 1800.00 / VAT 12360.00; total value 210000 -> fee 2134
        (("9750.00", "0.00", "31950.00"), ("1800.00", "0.00", "12360.00")),
        "2134.00",
    ),
    Case(
        "export: no duty, VAT 0 %",
        "EAEU Customs Code art. 139-140; RU Tax Code art. 164(1)(1) 0 %; export fee: 2025 scale kept in 2026 (Decree 1638 raised import fees only)",
        "RU",
        JAN_2026,
        EUR_2026,
        numbered(item("3305100000", "1000000.00")),
        # duty 0, excise 0, VAT 0; fee over 450,000 up to 1.2 mln on the 2025 scale: 4269
        (("0.00", "0.00", "0.00"),),
        "4269.00",
        direction="export",
    ),
]


def _book_with_historical_fee() -> Any:
    documents = read_documents()
    fees = json.loads(json.dumps(documents["customs_fees.json"]))
    fees["scales"].append(
        {
            "state": "RU",
            "directions": ["import"],
            "from": "2012-01-01",
            "to": "2016-12-31",
            "source": "test fixture: a flat fee so that a historical duty can be assessed (not under test)",
            "steps": [{"up_to": None, "amount": "30000", "checked": False}],
        }
    )
    return build_rule_book({**documents, "customs_fees.json": fees})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_worked_case(case: Case) -> None:
    book = _book_with_historical_fee() if case.book_extra_fee else None
    kwargs: dict[str, Any] = {
        "state": case.state,
        "direction": case.direction,
        "on": case.on,
        "rates": case.rates,
    }
    if book is not None:
        kwargs["book"] = book
    result: Assessment = assess_items(case.items, **kwargs)
    got = tuple((str(i.duty.amount), str(i.excise.amount), str(i.vat.amount)) for i in result.items)
    assert got == case.expected, case.rule
    assert str(result.fee.amount) == case.fee
    currency = "RUB" if case.state == "RU" else "BYN"
    for i in result.items:
        for charge in (i.duty, i.excise, i.vat):
            assert charge.currency == currency
            assert charge.amount == charge.amount.quantize(D("0.01"))
            assert charge.trace, "every amount comes with its trace"
    totals = {
        k: sum((D(e[n]) for e in case.expected), D("0")) for n, k in enumerate(("duty", "excise", "vat"))
    }
    assert result.totals["duty"] == totals["duty"]
    assert result.totals["excise"] == totals["excise"]
    assert result.totals["vat"] == totals["vat"]
    assert result.totals["total"] == totals["duty"] + totals["excise"] + totals["vat"] + D(case.fee)
    assert assess_many(case.items, **kwargs) == result


def test_there_are_at_least_forty_worked_cases() -> None:
    assert len(CASES) + len(FEE_STEPS) >= 40
    assert len(CASES) >= 30


# --- customs fee thresholds: at, just below and just above each published step ---------------------
FEE_STEPS: list[tuple[str, str, date, str, str]] = [
    # (state, direction, on, total customs value, fee)  RU 2025: Decree 1637 of 28.11.2024
    ("RU", "import", JUNE_2025, "199999.99", "1067.00"),
    ("RU", "import", JUNE_2025, "200000.00", "1067.00"),
    ("RU", "import", JUNE_2025, "200000.01", "2134.00"),
    ("RU", "import", JUNE_2025, "449999.99", "2134.00"),
    ("RU", "import", JUNE_2025, "450000.00", "2134.00"),
    ("RU", "import", JUNE_2025, "450000.01", "4269.00"),
    ("RU", "import", JUNE_2025, "1200000.00", "4269.00"),
    ("RU", "import", JUNE_2025, "4200000.01", "21344.00"),
    ("RU", "import", JUNE_2025, "5500000.00", "21344.00"),
    ("RU", "import", JUNE_2025, "7000000.01", "30000.00"),
    ("RU", "import", JUNE_2025, "99000000.00", "30000.00"),
    ("RU", "import", date(2025, 12, 31), "200000.00", "1067.00"),
    # RU 2026: Decree 1637 as amended by Decree 1638 of 23.10.2025
    ("RU", "import", date(2026, 1, 1), "200000.00", "1231.00"),
    ("RU", "import", JAN_2026, "199999.99", "1231.00"),
    ("RU", "import", JAN_2026, "4200000.01", "21344.00"),
    ("RU", "import", JAN_2026, "5500000.00", "21344.00"),
    ("RU", "import", JAN_2026, "5500000.01", "49240.00"),
    ("RU", "import", JAN_2026, "10000000.00", "49240.00"),
    ("RU", "import", JAN_2026, "10000000.01", "73860.00"),
    ("RU", "export", JAN_2026, "200000.00", "1067.00"),
    ("RU", "export", JAN_2026, "7000000.01", "30000.00"),
    # BY: Decree No. 443, 50 BYN per declaration from 01.01.2018
    ("BY", "import", JUNE_2025, "0.01", "50.00"),
    ("BY", "import", JAN_2026, "99000000.00", "50.00"),
]


@pytest.mark.parametrize(("state", "direction", "on", "value", "fee"), FEE_STEPS)
def test_fee_step(state: str, direction: str, on: date, value: str, fee: str) -> None:
    charge = customs_fee(state=state, customs_value_total=D(value), on=on, direction=direction)  # type: ignore[arg-type]
    assert str(charge.amount) == fee
    assert charge.kind == "fee"
    assert len(charge.trace) == 1
    assert ("1637" if state == "RU" else "443") in charge.trace[0].source


def test_fee_belarus_chapter_amount_applies_to_the_whole_declaration() -> None:
    charge = customs_fee(
        state="BY",
        customs_value_total=D("1000.00"),
        on=JUNE_2025,
        direction="import",
        hs_codes=["0302140000", "3305100000"],
    )
    assert charge.amount == D("120.00")
    assert "chapter 33" in charge.trace[0].rate
