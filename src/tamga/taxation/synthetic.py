"""Synthetic mutual trade between Russia and Belarus, for the demo, the tests and the benchmark.

    trade = trade_rows(200, seed=1)          # dict rows (tax ids, dates, Decimal amounts) for the demo and API
    arrays = trade_arrays(10_000_000)        # the same plan as `reconcile` columns, vectorised, in seconds

Both shapes come from one seeded, deterministic plan: a number of trades (shipments), each from a seller in
one state to a buyer in the other, and the documents they leave: the exporter's 0 % claim and the confirmed
application that reaches the exporter's tax authority. Every trade carries one `Scenario`, and `expected`
gives what a correct reconciliation (at the default tolerance) must find.

**Companies.** Every region of both states (ISO 3166-2, from the reference catalog: 83 Russian subjects, 7
Belarusian regions) has companies with valid identifiers made by `tamga.parties.synthetic`: an INN whose
first two digits are the region's code among the FNS codes of subjects (Order of the FNS of Russia of
20.05.2022 No. ED-7-21/420@, annex 2, as amended 28.10.2022) with its KPP and OGRN; a UNP whose first
digit is the region's (1 Minsk, 2 Brest, 3 Vitebsk, 4 Gomel, 5 Grodno, 6 Minsk region, 7 Mogilev: the
regional digit of the payer's account number, https://be.wikipedia.org/wiki/Уліковы_нумар_плацельшчыка,
the page python-stdnum cites for the UNP).

**Illustrative** (no publication gives these; they shape realistic-looking data, nothing is computed
from them): the region weights (the capitals and border regions trade most), Russia as the seller in 55 %
of trades, goods drawn uniformly from the HS 2022 subheadings of the catalog (section XIX, arms, left
out), an invoice amount log-normal around a median per HS section (`SECTION_MEDIAN_RUB`, a lorry load's
worth; sigma 0.9, clipped to 10,000 - 500,000,000 roubles), and the shares of `DEFAULT_MIX`:

| scenario | share of rows per side | what happens |
|---|---|---|
| mismatch | 1.5 % | the confirmed amount differs from the claim by 3 - 25 % |
| within tolerance | 5 % | the confirmed amount differs by 1 - 100 kopecks (conversion rounding) |
| late | 2 % | the confirmation reaches the exporter after the 180-day window (181 - 365 days) |
| no confirmation | 2.5 % | the exporter claimed 0 %, the importer never filed or was refused |
| no claim | 3 % | a confirmation arrived, the exporter has not claimed (yet) |
| wrong date | 0.6 % | the importer's application carries the invoice date one day off |
| wrong number | 0.4 % | the importer's application carries another invoice number |
| duplicate claim | 0.5 % | the exporter claimed one shipment twice |
| match | the rest | everything agrees |

"No claim" is "no confirmation" plus "duplicate claim", so that both sides have exactly `rows_per_side`
rows. A wrong date or number leaves a claim without confirmation and a confirmation without claim.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import IntEnum
from functools import cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from tamga.parties import synthetic as ids
from tamga.reference.catalog import load_catalog, read_documents
from tamga.taxation.reconcile import Claims, Confirmations
from tamga.taxation.reconcile_rows import (
    EPOCH,
    ROMAN_SECTIONS,
    party_key,
    region_code,
    region_key,
    tax_id_of,
)

# FNS codes of the subjects of the Russian Federation (Order of the FNS of Russia of 20.05.2022
# No. ED-7-21/420@, annex 2, as amended 28.10.2022), keyed by ISO 3166-2.
RU_TAX_REGION: Final = {
    "RU-AD": 1, "RU-BA": 2, "RU-BU": 3, "RU-AL": 4, "RU-DA": 5, "RU-IN": 6, "RU-KB": 7, "RU-KL": 8,
    "RU-KC": 9, "RU-KR": 10, "RU-KO": 11, "RU-ME": 12, "RU-MO": 13, "RU-SA": 14, "RU-SE": 15, "RU-TA": 16,
    "RU-TY": 17, "RU-UD": 18, "RU-KK": 19, "RU-CE": 20, "RU-CU": 21, "RU-ALT": 22, "RU-KDA": 23,
    "RU-KYA": 24, "RU-PRI": 25, "RU-STA": 26, "RU-KHA": 27, "RU-AMU": 28, "RU-ARK": 29, "RU-AST": 30,
    "RU-BEL": 31, "RU-BRY": 32, "RU-VLA": 33, "RU-VGG": 34, "RU-VLG": 35, "RU-VOR": 36, "RU-IVA": 37,
    "RU-IRK": 38, "RU-KGD": 39, "RU-KLU": 40, "RU-KAM": 41, "RU-KEM": 42, "RU-KIR": 43, "RU-KOS": 44,
    "RU-KGN": 45, "RU-KRS": 46, "RU-LEN": 47, "RU-LIP": 48, "RU-MAG": 49, "RU-MOS": 50, "RU-MUR": 51,
    "RU-NIZ": 52, "RU-NGR": 53, "RU-NVS": 54, "RU-OMS": 55, "RU-ORE": 56, "RU-ORL": 57, "RU-PNZ": 58,
    "RU-PER": 59, "RU-PSK": 60, "RU-ROS": 61, "RU-RYA": 62, "RU-SAM": 63, "RU-SAR": 64, "RU-SAK": 65,
    "RU-SVE": 66, "RU-SMO": 67, "RU-TAM": 68, "RU-TVE": 69, "RU-TOM": 70, "RU-TUL": 71, "RU-TYU": 72,
    "RU-ULY": 73, "RU-CHE": 74, "RU-ZAB": 75, "RU-YAR": 76, "RU-MOW": 77, "RU-SPE": 78, "RU-YEV": 79,
    "RU-NEN": 83, "RU-KHM": 86, "RU-CHU": 87, "RU-YAN": 89,
}  # fmt: skip

# The regional (first) digit of a Belarusian UNP, keyed by ISO 3166-2.
BY_UNP_REGION: Final = {
    "BY-HM": 1, "BY-BR": 2, "BY-VI": 3, "BY-HO": 4, "BY-HR": 5, "BY-MI": 6, "BY-MA": 7,
}  # fmt: skip

# Illustrative weights of a region in trade (1 for any region not listed).
REGION_WEIGHT: Final = {
    "RU-MOW": 25.0, "RU-MOS": 10.0, "RU-SPE": 10.0, "RU-SMO": 5.0, "RU-BRY": 4.0, "RU-PSK": 3.0,
    "RU-KDA": 3.0, "RU-TA": 3.0, "RU-SVE": 3.0, "RU-NIZ": 3.0, "RU-ROS": 2.0, "RU-KLU": 2.0,
    "RU-TVE": 2.0, "RU-LEN": 2.0,
    "BY-HM": 35.0, "BY-MI": 15.0, "BY-VI": 12.0, "BY-HO": 12.0, "BY-BR": 10.0, "BY-HR": 9.0, "BY-MA": 7.0,
}  # fmt: skip

# Illustrative median invoice amount (roubles) per HS section: roughly one lorry load.
SECTION_MEDIAN_RUB: Final = {
    "I": 2_500_000, "II": 1_500_000, "III": 3_000_000, "IV": 2_000_000, "V": 6_000_000, "VI": 2_500_000,
    "VII": 2_000_000, "VIII": 1_500_000, "IX": 1_200_000, "X": 1_500_000, "XI": 2_000_000, "XII": 1_500_000,
    "XIII": 1_000_000, "XIV": 800_000, "XV": 3_000_000, "XVI": 4_000_000, "XVII": 8_000_000,
    "XVIII": 1_500_000, "XX": 1_000_000, "XXI": 500_000,
}  # fmt: skip
AMOUNT_SIGMA: Final = 0.9
MIN_AMOUNT_MINOR: Final = 1_000_000  # 10,000 roubles
MAX_AMOUNT_MINOR: Final = 50_000_000_000  # 500,000,000 roubles
RUSSIAN_SELLER_SHARE: Final = 0.55
FIRST_DAY: Final = date(2025, 7, 1)
SPAN_DAYS: Final = 365


class Scenario(IntEnum):
    """What happened to one trade's documents."""

    MATCH = 0
    WITHIN_TOLERANCE = 1
    MISMATCH = 2
    LATE = 3
    NO_CONFIRMATION = 4
    NO_CLAIM = 5
    WRONG_DATE = 6
    WRONG_NUMBER = 7
    DUPLICATE_CLAIM = 8


@dataclass(frozen=True)
class Mix:
    """Shares of rows per side by scenario (see the module docstring); the rest match."""

    mismatch: float = 0.015
    within_tolerance: float = 0.05
    late: float = 0.02
    no_confirmation: float = 0.025
    wrong_date: float = 0.006
    wrong_number: float = 0.004
    duplicate_claim: float = 0.005


DEFAULT_MIX: Final = Mix()


@dataclass(frozen=True)
class Company:
    """A synthetic company with valid identifiers (KPP and OGRN for a Russian one only)."""

    country: str
    region: str
    tax_id: str
    kpp: str | None
    ogrn: str | None
    name: str


def companies(seed: int = 0, *, per_ru_region: int = 3, per_by_region: int = 12) -> tuple[Company, ...]:
    """Give companies in every region of both states, with distinct valid INN/KPP/OGRN or UNP."""
    rng = random.Random(seed)
    catalog = load_catalog()
    seen: set[str] = set()
    made: list[Company] = []
    for region in sorted(r.code for r in catalog.regions()):
        country = region[:2]
        count = per_ru_region if country == "RU" else per_by_region
        name_ru = catalog.region(region)
        place = (name_ru.name_ru if name_ru and name_ru.name_ru else region).split()[0]
        serial = 0
        while serial < count:
            if country == "RU":
                code = RU_TAX_REGION[region]
                tax_id = ids.inn_legal(rng, code)
                kpp: str | None = ids.kpp(tax_id)
                ogrn: str | None = ids.ogrn(rng, code)
                name = f"ООО «{place}-Торг {serial + 1}»"
            else:
                tax_id = ids.unp(rng, BY_UNP_REGION[region])
                kpp = ogrn = None
                name = f"ОАО «{place}-Экспорт {serial + 1}»"
            if tax_id in seen:
                continue
            seen.add(tax_id)
            made.append(Company(country, region, tax_id, kpp, ogrn, name))
            serial += 1
    return tuple(made)


@cache
def _goods() -> tuple[tuple[str, ...], npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """Give the HS 2022 subheadings traded, their section numbers and the log of their median in kopecks."""
    codes: list[str] = []
    sections: list[int] = []
    medians: list[float] = []
    for entry in sorted(read_documents()["hs_codes"]["hs6"], key=lambda e: str(e["code"])):
        section = str(entry["section"])
        if section not in SECTION_MEDIAN_RUB:
            continue
        codes.append(str(entry["code"]))
        sections.append(ROMAN_SECTIONS.index(section) + 1)
        medians.append(float(np.log(SECTION_MEDIAN_RUB[section] * 100)))
    return tuple(codes), np.array(sections, np.int8), np.array(medians)


_DRAW_TABLE: Final = 1 << 16


@dataclass(frozen=True, eq=False)
class _Pool:
    keys: npt.NDArray[np.int64]
    regions: npt.NDArray[np.int16]
    table: npt.NDArray[np.int64]
    """Company positions, each repeated in proportion to its weight: a uniform draw from it is a weighted one."""

    def draw(self, rng: np.random.Generator, size: int) -> npt.NDArray[np.int64]:
        picked: npt.NDArray[np.int64] = self.table[rng.integers(0, self.table.size, size)]
        return picked


def _pool(made: tuple[Company, ...], country: str) -> _Pool:
    chosen = [c for c in made if c.country == country]
    per_region: dict[str, int] = {}
    for c in chosen:
        per_region[c.region] = per_region.get(c.region, 0) + 1
    weights = np.array([REGION_WEIGHT.get(c.region, 1.0) / per_region[c.region] for c in chosen])
    copies = np.maximum(1, np.rint(weights / weights.sum() * _DRAW_TABLE)).astype(np.int64)
    return _Pool(
        keys=np.array([party_key(c.tax_id) for c in chosen], np.int64),
        regions=np.array([region_key(c.region) for c in chosen], np.int16),
        table=np.repeat(np.arange(len(chosen), dtype=np.int64), copies),
    )


@dataclass(frozen=True, eq=False)
class _Plan:
    """One row per trade (in a random order of scenarios), plus which trades give claim and confirmation rows.

    Claims come in trade order, then the duplicates; confirmations in a shuffled order.
    """

    scenario: npt.NDArray[np.int8]
    seller: npt.NDArray[np.int64]
    buyer: npt.NDArray[np.int64]
    seller_region: npt.NDArray[np.int16]
    buyer_region: npt.NDArray[np.int16]
    goods: npt.NDArray[np.int64]
    serial: npt.NDArray[np.int64]
    invoice_day: npt.NDArray[np.int32]
    shipment_day: npt.NDArray[np.int32]
    registered_day: npt.NDArray[np.int32]
    received_day: npt.NDArray[np.int32]
    claimed: npt.NDArray[np.int64]
    confirmed: npt.NDArray[np.int64]
    confirmed_day: npt.NDArray[np.int32]
    confirmed_serial: npt.NDArray[np.int64]
    claim_trades: npt.NDArray[np.int64]
    duplicates: int
    confirmation_trades: npt.NDArray[np.int64]
    expected: dict[str, int]


def _days(rng: np.random.Generator, low: int, high: int, size: int) -> npt.NDArray[np.int32]:
    days: npt.NDArray[np.int32] = rng.integers(low, high, size, dtype=np.int32)
    return days


_BLOCK: Final = 4096


def _block_shuffle(rng: np.random.Generator, values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Give values in a shuffled order of blocks of 4,096, each block shuffled within.

    The other authority's registers arrive in batches; reading them (a gather) stays cache-friendly.
    """
    blocks = -(-values.size // _BLOCK)
    order = (rng.permutation(blocks)[:, None] * _BLOCK + rng.permutation(_BLOCK)[None, :]).ravel()
    shuffled: npt.NDArray[np.int64] = values[order[order < values.size]]
    return shuffled


def _plan(rows_per_side: int, seed: int, mix: Mix, made: tuple[Company, ...]) -> _Plan:
    n = rows_per_side
    if n < 0:
        raise ValueError("rows_per_side must not be negative")
    rng = np.random.default_rng(seed)
    no_conf, dup = round(n * mix.no_confirmation), round(n * mix.duplicate_claim)
    wrong_date, wrong_number = round(n * mix.wrong_date), round(n * mix.wrong_number)
    no_claim = no_conf + dup
    paired = n - no_conf - dup - wrong_date - wrong_number
    if paired < dup:
        raise ValueError("the mix leaves too few paired trades")
    mismatch = min(round(n * mix.mismatch), paired)
    within = min(round(n * mix.within_tolerance), paired - mismatch)
    late = min(round(n * mix.late), paired - mismatch - within)
    counts = [
        (Scenario.MISMATCH, mismatch),
        (Scenario.WITHIN_TOLERANCE, within),
        (Scenario.LATE, late),
        (Scenario.MATCH, paired - mismatch - within - late),
        (Scenario.NO_CONFIRMATION, no_conf),
        (Scenario.NO_CLAIM, no_claim),
        (Scenario.WRONG_DATE, wrong_date),
        (Scenario.WRONG_NUMBER, wrong_number),
    ]
    scenario = rng.permutation(np.repeat(np.array([s for s, _ in counts], np.int8), [c for _, c in counts]))
    trades = scenario.size

    ru, by = _pool(made, "RU"), _pool(made, "BY")
    russian_seller = rng.random(trades) < RUSSIAN_SELLER_SHARE
    ru_pick, by_pick = ru.draw(rng, trades), by.draw(rng, trades)
    seller = np.where(russian_seller, ru.keys[ru_pick], by.keys[by_pick])
    buyer = np.where(russian_seller, by.keys[by_pick], ru.keys[ru_pick])
    seller_region = np.where(russian_seller, ru.regions[ru_pick], by.regions[by_pick])
    buyer_region = np.where(russian_seller, by.regions[by_pick], ru.regions[ru_pick])

    codes, _, log_median = _goods()
    goods = rng.integers(0, len(codes), trades)
    amount = log_median[goods]
    amount += AMOUNT_SIGMA * rng.standard_normal(trades)
    np.exp(amount, out=amount)
    claimed = np.clip(np.rint(amount), MIN_AMOUNT_MINOR, MAX_AMOUNT_MINOR).astype(np.int64)
    del amount
    confirmed = claimed.copy()
    rows = np.flatnonzero(scenario == Scenario.MISMATCH)
    change = rng.uniform(0.03, 0.25, rows.size) * rng.choice(np.array([-1.0, 1.0]), rows.size)
    confirmed[rows] = np.rint(claimed[rows] / (1 + change)).astype(np.int64)
    rows = np.flatnonzero(scenario == Scenario.WITHIN_TOLERANCE)
    confirmed[rows] += rng.integers(1, 101, rows.size) * rng.choice(np.array([-1, 1]), rows.size)

    first = (FIRST_DAY - EPOCH).days
    invoice_day = _days(rng, first, first + SPAN_DAYS, trades)
    shipment_day = invoice_day + _days(rng, 0, 3, trades)
    registered_day = shipment_day + _days(rng, 1, 8, trades)
    received_day = registered_day + _days(rng, 15, 120, trades)
    rows = np.flatnonzero(scenario == Scenario.LATE)
    received_day[rows] = shipment_day[rows] + _days(rng, 181, 366, rows.size)
    confirmed_day = invoice_day.copy()
    rows = np.flatnonzero(scenario == Scenario.WRONG_DATE)
    confirmed_day[rows] += rng.choice(np.array([-1, 1], np.int32), rows.size)
    serial = np.arange(1, trades + 1, dtype=np.int64)
    confirmed_serial = serial.copy()
    rows = np.flatnonzero(scenario == Scenario.WRONG_NUMBER)
    confirmed_serial[rows] += trades

    paired_trades = np.flatnonzero(scenario <= Scenario.LATE)
    duplicates = np.sort(rng.choice(paired_trades, dup, replace=False)).astype(np.int64)
    claim_trades = np.concatenate((np.flatnonzero(scenario != Scenario.NO_CLAIM), duplicates))
    confirmation_trades = _block_shuffle(rng, np.flatnonzero(scenario != Scenario.NO_CONFIRMATION))
    expected = {
        "matched": paired - mismatch,
        "mismatched": mismatch,
        "unconfirmed": no_conf + wrong_date + wrong_number + dup,
        "unclaimed": no_claim + wrong_date + wrong_number,
    }
    return _Plan(
        scenario=scenario,
        seller=seller,
        buyer=buyer,
        seller_region=seller_region,
        buyer_region=buyer_region,
        goods=goods,
        serial=serial,
        invoice_day=invoice_day,
        shipment_day=shipment_day,
        registered_day=registered_day,
        received_day=received_day,
        claimed=claimed,
        confirmed=confirmed,
        confirmed_day=confirmed_day,
        confirmed_serial=confirmed_serial,
        claim_trades=claim_trades.astype(np.int64),
        duplicates=dup,
        confirmation_trades=confirmation_trades.astype(np.int64),
        expected=expected,
    )


def _months(days: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Give YYYYMM of days since 1970-01-01 (through a table of the days the plan can reach)."""
    if days.size == 0:
        return np.zeros(0, np.int32)
    low, high = int(days.min()), int(days.max())
    span = np.arange(low, high + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    table = ((1970 + span // 12) * 100 + span % 12 + 1).astype(np.int32)
    months: npt.NDArray[np.int32] = table[days - low]
    return months


@dataclass(frozen=True, eq=False)
class SyntheticArrays:
    """Synthetic claims and confirmations as columns, with what reconciliation must find."""

    claims: Claims
    confirmations: Confirmations
    expected: dict[str, int]
    claim_scenario: npt.NDArray[np.int8]
    confirmation_scenario: npt.NDArray[np.int8]
    shipment_day: npt.NDArray[np.int32]
    """Per claim: the day the goods were shipped."""
    received_day: npt.NDArray[np.int32]
    """Per confirmation: the day it reached the exporter's tax authority."""


def trade_arrays(
    rows_per_side: int,
    *,
    seed: int = 0,
    mix: Mix = DEFAULT_MIX,
    per_ru_region: int = 40,
    per_by_region: int = 300,
) -> SyntheticArrays:
    """Give `rows_per_side` claims and as many confirmations, seeded and deterministic, vectorised."""
    made = companies(seed, per_ru_region=per_ru_region, per_by_region=per_by_region)
    plan = _plan(rows_per_side, seed, mix, made)
    _, sections, _ = _goods()
    c, f = plan.claim_trades, plan.confirmation_trades
    claims = Claims(
        claim_id=np.arange(1, c.size + 1, dtype=np.int64),
        seller_id=plan.seller[c],
        buyer_id=plan.buyer[c],
        invoice_no=plan.serial[c],
        invoice_day=plan.invoice_day[c],
        amount_minor=plan.claimed[c],
        seller_region=plan.seller_region[c],
        buyer_region=plan.buyer_region[c],
        month=_months(plan.shipment_day[c]),
        hs_section=sections[plan.goods[c]],
    )
    confirmations = Confirmations(
        confirmation_id=np.arange(1, f.size + 1, dtype=np.int64),
        seller_id=plan.seller[f],
        buyer_id=plan.buyer[f],
        invoice_no=plan.confirmed_serial[f],
        invoice_day=plan.confirmed_day[f],
        amount_minor=plan.confirmed[f],
        seller_region=plan.seller_region[f],
        buyer_region=plan.buyer_region[f],
        month=_months(plan.registered_day[f]),
        hs_section=sections[plan.goods[f]],
    )
    claim_scenario = plan.scenario[c]
    if plan.duplicates:
        claim_scenario[-plan.duplicates :] = Scenario.DUPLICATE_CLAIM
    return SyntheticArrays(
        claims=claims,
        confirmations=confirmations,
        expected=plan.expected,
        claim_scenario=claim_scenario,
        confirmation_scenario=plan.scenario[f],
        shipment_day=plan.shipment_day[c],
        received_day=plan.received_day[f],
    )


@dataclass(frozen=True)
class SyntheticTrade:
    """Synthetic claims and confirmations as dict rows, the companies behind them, and the expected outcome.

    Rows use the default field names of `reconcile_rows` (so `claims_from_rows(trade.claims)` works) plus
    `seller_country`, `buyer_country`, `currency`, `scenario` and the dates of the documents' lives.
    """

    companies: tuple[Company, ...]
    claims: list[dict[str, Any]]
    confirmations: list[dict[str, Any]]
    expected: dict[str, int]


def _day(days: int) -> date:
    return EPOCH + timedelta(days=int(days))


def trade_rows(
    rows_per_side: int,
    *,
    seed: int = 0,
    mix: Mix = DEFAULT_MIX,
    per_ru_region: int = 3,
    per_by_region: int = 12,
) -> SyntheticTrade:
    """Give `rows_per_side` claims and as many confirmations as dict rows (for small counts: the demo, the API)."""
    made = companies(seed, per_ru_region=per_ru_region, per_by_region=per_by_region)
    plan = _plan(rows_per_side, seed, mix, made)
    codes, _, _ = _goods()
    cents = Decimal("0.01")

    def common(t: int) -> dict[str, Any]:
        seller_region, buyer_region = (
            region_code(int(plan.seller_region[t])),
            region_code(int(plan.buyer_region[t])),
        )
        return {
            "seller_tax_id": tax_id_of(int(plan.seller[t])),
            "seller_country": seller_region[:2],
            "seller_region": seller_region,
            "buyer_tax_id": tax_id_of(int(plan.buyer[t])),
            "buyer_country": buyer_region[:2],
            "buyer_region": buyer_region,
            "hs_code": codes[int(plan.goods[t])],
            "currency": "RUB",
            "shipment_date": _day(int(plan.shipment_day[t])),
        }

    claims = []
    first_duplicate = plan.claim_trades.size - plan.duplicates
    for i, t in enumerate(plan.claim_trades.tolist()):
        scenario = Scenario.DUPLICATE_CLAIM if i >= first_duplicate else Scenario(int(plan.scenario[t]))
        claims.append(
            {
                "id": i + 1,
                **common(t),
                "invoice_number": f"СФ-{int(plan.serial[t]):08d}",
                "invoice_date": _day(int(plan.invoice_day[t])),
                "amount": Decimal(int(plan.claimed[t])) * cents,
                "period": _day(int(plan.shipment_day[t])),
                "scenario": scenario.name.lower(),
            }
        )
    confirmations = []
    for i, t in enumerate(plan.confirmation_trades.tolist()):
        confirmations.append(
            {
                "id": i + 1,
                **common(t),
                "invoice_number": f"СФ-{int(plan.confirmed_serial[t]):08d}",
                "invoice_date": _day(int(plan.confirmed_day[t])),
                "amount": Decimal(int(plan.confirmed[t])) * cents,
                "registered_date": _day(int(plan.registered_day[t])),
                "received_date": _day(int(plan.received_day[t])),
                "period": _day(int(plan.registered_day[t])),
                "scenario": Scenario(int(plan.scenario[t])).name.lower(),
            }
        )
    return SyntheticTrade(companies=made, claims=claims, confirmations=confirmations, expected=plan.expected)
