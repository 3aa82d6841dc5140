"""Write the sample exchange-rate documents of `src/tamga/rates/samples` (deterministic).

    .venv/bin/python scripts/generate_rate_samples.py

Writes one daily document per rate date in each bank's own format, packed in a tar.xz per bank, a
`manifest.json` listing the values checked against a publication (with the source of each), and the
README. Every value not listed there is ILLUSTRATIVE: a smooth series drawn through the published
values (a seeded random walk before the first and after the last), so that every day from
2025-11-01 to 2030-12-31 has a rate in force for the currencies the platform's tests and demo use.
The document dates follow the published production calendars up to 2026 and, from 2027, an
illustrative calendar (`illustrative_days_off`).
"""

from __future__ import annotations

import io
import itertools
import json
import math
import random
import tarfile
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "tamga" / "rates" / "samples"
FIRST, LAST = date(2025, 10, 20), date(2030, 12, 31)
# The days off below are the published calendars' up to here; later years use `illustrative_days_off`.
PUBLISHED_CALENDARS_END = date(2026, 12, 31)
# A rate stays in force at most this long (`tamga.rates.domain.MAX_RATE_AGE`, checked in `main`).
MAX_RATE_AGE = timedelta(days=10)
SEED = 20251101

# -- the published values (Bank of Russia: rates dated the day they come into force)

PRIME_20251219 = "https://1prime.ru/20251219/tsb-865727772.html"
PRIME_20251223 = "https://1prime.ru/20251223/kurs-865846919.html"
RTVI_20251204 = "https://rtvi.com/news/czentrobank-opustil-kurs-dollara-nizhe-77-rublej-vpervye-za-25-goda/"
RBC_20251226 = "https://www.rbc.ru/quote/news/article/694e46779a7947034881812e"
PRIME_20260113 = "https://1prime.ru/20260113/tsb-866453504.html"
PRIME_20260114 = "https://1prime.ru/20260114/kurs-866499468.html"
PRIME_20260116 = "https://1prime.ru/20260116/tsb-866584040.html"
PRIME_20260213 = "https://1prime.ru/20260213/tsb-867454378.html"
PRIME_20260203 = "https://1prime.ru/20260203/yuan-867156817.html"
PRIME_20260204 = "https://1prime.ru/20260204/kurs-867185783.html"
PRIME_20260303 = "https://1prime.ru/20260303/kurs-867981911.html"
MAIL_20251228 = "https://news.mail.ru/economics/69263320/"
MAIL_20251231 = "https://news.mail.ru/economics/69297701/"
MAIL_20260109 = "https://news.mail.ru/economics/69363023/"
MAIL_20260114 = "https://news.mail.ru/economics/69411609/"
MAIL_20260123 = "https://news.mail.ru/economics/69528285/"
# a copy of the Bank's XML_daily_eng.asp document dated 13.12.2025, kept as a test fixture
CBR_20251213 = "https://github.com/Helheimiss/usingcbrfapi/blob/main/test/data.h"
DERIVED = "derived: the next day's published rate less the change that the same article reports, "

# (day, currency) -> (RUB per the currency's CBR nominal: JPY, KZT per 100, TRY per 10; source)
CBR_PUBLISHED: dict[tuple[date, str], tuple[str, str]] = {
    **{
        (date(2025, 12, 13), code): (value, CBR_20251213)
        for code, value in {
            "USD": "79.7296",
            "EUR": "93.5626",
            "CNY": "11.2726",
            "JPY": "51.2138",
            "KZT": "15.3320",
            "TRY": "18.7279",
            "PLN": "22.1305",
            "GBP": "107.1167",
            "CHF": "100.3140",
            "BYN": "27.0426",
        }.items()
    },
    (date(2025, 12, 4), "USD"): ("77.9556", RTVI_20251204),
    (date(2025, 12, 4), "EUR"): ("90.5903", RTVI_20251204),
    (date(2025, 12, 4), "CNY"): ("10.9762", RTVI_20251204),
    (date(2025, 12, 5), "USD"): ("76.9708", RTVI_20251204),
    (date(2025, 12, 5), "EUR"): ("89.9011", RTVI_20251204),
    (date(2025, 12, 5), "CNY"): ("10.8487", RTVI_20251204),
    (date(2025, 12, 20), "USD"): ("80.7220", PRIME_20251219),
    (date(2025, 12, 20), "EUR"): ("94.5120", PRIME_20251219),
    (date(2025, 12, 20), "CNY"): ("11.4463", PRIME_20251219),
    (date(2025, 12, 24), "USD"): ("78.5850", PRIME_20251223),
    (date(2025, 12, 24), "EUR"): ("92.8137", PRIME_20251223),
    (date(2025, 12, 24), "CNY"): ("11.1497", PRIME_20251223),
    (date(2025, 12, 26), "USD"): ("77.8844", RBC_20251226),
    (date(2025, 12, 26), "EUR"): ("91.8902", RBC_20251226),
    (date(2025, 12, 26), "CNY"): ("11.0773", RBC_20251226),
    (date(2025, 12, 27), "USD"): ("77.6923", RBC_20251226),
    (date(2025, 12, 27), "EUR"): ("91.2066", RBC_20251226),
    (date(2025, 12, 27), "CNY"): ("11.0449", RBC_20251226),
    (date(2026, 1, 13), "USD"): ("78.7913", DERIVED + PRIME_20260113),
    (date(2026, 1, 13), "EUR"): ("91.9668", DERIVED + PRIME_20260113),
    (date(2026, 1, 13), "CNY"): ("11.2856", DERIVED + PRIME_20260113),
    (date(2026, 1, 14), "USD"): ("78.8527", PRIME_20260113),
    (date(2026, 1, 14), "EUR"): ("92.3973", PRIME_20260113),
    (date(2026, 1, 14), "CNY"): ("11.2763", PRIME_20260113),
    (date(2026, 1, 15), "USD"): ("78.5711", PRIME_20260114),
    (date(2026, 1, 15), "EUR"): ("92.1964", PRIME_20260114),
    (date(2026, 1, 15), "CNY"): ("11.2419", PRIME_20260114),
    (date(2026, 1, 16), "USD"): ("78.5280", DERIVED + PRIME_20260116),
    (date(2026, 1, 16), "CNY"): ("11.2402", DERIVED + PRIME_20260116),
    (date(2026, 1, 17), "USD"): ("77.8332", PRIME_20260116),
    (date(2026, 1, 17), "EUR"): ("90.5366", PRIME_20260116),
    (date(2026, 1, 17), "CNY"): ("11.1510", PRIME_20260116),
    (date(2026, 2, 4), "USD"): ("76.9817", PRIME_20260203),
    (date(2026, 2, 4), "EUR"): ("90.7178", PRIME_20260203),
    (date(2026, 2, 4), "CNY"): ("11.0638", PRIME_20260203),
    (date(2026, 2, 5), "USD"): ("76.9102", PRIME_20260204),
    (date(2026, 2, 5), "EUR"): ("91.1138", PRIME_20260204),
    (date(2026, 2, 5), "CNY"): ("11.0515", PRIME_20260204),
    (date(2026, 2, 14), "USD"): ("77.1944", PRIME_20260213),
    (date(2026, 2, 14), "EUR"): ("91.5575", PRIME_20260213),
    (date(2026, 2, 14), "CNY"): ("11.1523", PRIME_20260213),
    (date(2026, 3, 4), "USD"): ("77.6093", PRIME_20260303),
    (date(2026, 3, 4), "EUR"): ("90.3098", PRIME_20260303),
    (date(2026, 3, 4), "CNY"): ("11.2210", PRIME_20260303),
}

# (day, currency) -> (BYN per the currency's NBRB scale: USD, EUR per 1, RUB per 100; source)
NBRB_PUBLISHED: dict[tuple[date, str], tuple[str, str]] = {
    (date(2025, 12, 28), "USD"): ("2.9127", MAIL_20251228),
    (date(2025, 12, 28), "EUR"): ("3.4342", MAIL_20251228),
    (date(2025, 12, 28), "RUB"): ("3.7094", MAIL_20251228),
    (date(2025, 12, 30), "USD"): ("2.8925", DERIVED + MAIL_20251231),
    (date(2025, 12, 30), "EUR"): ("3.4059", DERIVED + MAIL_20251231),
    (date(2025, 12, 30), "RUB"): ("3.7248", DERIVED + MAIL_20251231),
    (date(2025, 12, 31), "USD"): ("2.9027", MAIL_20251231),
    (date(2025, 12, 31), "EUR"): ("3.4170", MAIL_20251231),
    (date(2025, 12, 31), "RUB"): ("3.7058", MAIL_20251231),
    (date(2026, 1, 8), "USD"): ("2.9532", DERIVED + MAIL_20260109),
    (date(2026, 1, 8), "EUR"): ("3.4599", DERIVED + MAIL_20260109),
    (date(2026, 1, 8), "RUB"): ("3.6735", DERIVED + MAIL_20260109),
    (date(2026, 1, 9), "USD"): ("2.9550", MAIL_20260109),
    (date(2026, 1, 9), "EUR"): ("3.4505", MAIL_20260109),
    (date(2026, 1, 9), "RUB"): ("3.6798", MAIL_20260109),
    (date(2026, 1, 13), "USD"): ("2.9292", DERIVED + MAIL_20260114),
    (date(2026, 1, 13), "EUR"): ("3.4226", DERIVED + MAIL_20260114),
    (date(2026, 1, 13), "RUB"): ("3.7029", DERIVED + MAIL_20260114),
    (date(2026, 1, 14), "USD"): ("2.9164", MAIL_20260114),
    (date(2026, 1, 14), "EUR"): ("3.4038", MAIL_20260114),
    (date(2026, 1, 14), "RUB"): ("3.7085", MAIL_20260114),
    (date(2026, 1, 22), "USD"): ("2.8885", DERIVED + MAIL_20260123),
    (date(2026, 1, 22), "EUR"): ("3.3807", DERIVED + MAIL_20260123),
    (date(2026, 1, 22), "RUB"): ("3.7197", DERIVED + MAIL_20260123),
    (date(2026, 1, 23), "USD"): ("2.8471", MAIL_20260123),
    (date(2026, 1, 23), "EUR"): ("3.3292", MAIL_20260123),
    (date(2026, 1, 23), "RUB"): ("3.7413", MAIL_20260123),
}

# -- the banks' calendars. The Bank of Russia sets its rates on a working day, dated the next calendar
# day, in force until the next ones. The National Bank of Belarus publishes a rate for every calendar
# day ("устанавливает ежедневно", including Sundays: see MAIL_20251228), changed the day after a working day.

RU_DAYS_OFF = {
    date(2025, 11, 3),
    date(2025, 11, 4),
    date(2025, 12, 31),
    *(date(2026, 1, d) for d in range(1, 12)),
    date(2026, 2, 23),
    date(2026, 3, 9),
    date(2026, 5, 1),
    date(2026, 5, 11),
    date(2026, 6, 12),
    date(2026, 11, 4),
    date(2026, 12, 31),
}
RU_WORKING_SATURDAYS = {date(2025, 11, 1)}
BY_DAYS_OFF = {
    date(2025, 11, 7),
    date(2025, 12, 25),
    date(2026, 1, 1),
    date(2026, 1, 2),
    date(2026, 1, 7),
    date(2026, 4, 21),
    date(2026, 5, 1),
    date(2026, 7, 3),
    date(2026, 12, 25),
}
BY_WORKING_SATURDAYS = {date(2026, 1, 17)}

# From 2027, illustrative calendars: weekends and the fixed public holidays, with no transfers (the
# governments set those each autumn). Russia's New Year break is taken as 1 to 7 January, so that the
# rate set before it stays in force through it under the 10-day rule: the Bank of Russia announces how
# long its rates hold over a longer break (`ANNOUNCED_IN_FORCE`), and no such notice exists for those years.
RU_FIXED_HOLIDAYS = [(1, d) for d in range(1, 8)] + [(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)]
BY_FIXED_HOLIDAYS = [(1, 1), (1, 2), (1, 7), (3, 8), (5, 1), (5, 9), (7, 3), (11, 7), (12, 25)]


def illustrative_days_off(fixed: list[tuple[int, int]]) -> set[date]:
    """Give the fixed holidays of every year after the published calendars, up to LAST."""
    years = range(PUBLISHED_CALENDARS_END.year + 1, LAST.year + 1)
    return {date(year, month, day) for year in years for month, day in fixed}


def rate_dates(days_off: set[date], working_saturdays: set[date]) -> list[date]:
    """Give the dates of the documents: the day after each working day."""
    out = []
    day = FIRST - timedelta(days=1)
    while day < LAST:
        working = (day.weekday() < 5 and day not in days_off) or day in working_saturdays
        if working:
            out.append(day + timedelta(days=1))
        day += timedelta(days=1)
    return out


# -- currencies: code, ISO numeric, CBR (id, nominal, name), NBRB (Cur_ID, scale, name)

CURRENCIES = {
    "USD": ("840", ("R01235", 1, "Доллар США"), (431, 1, "Доллар США")),
    "EUR": ("978", ("R01239", 1, "Евро"), (451, 1, "Евро")),
    "CNY": ("156", ("R01375", 1, "Китайский юань"), (462, 10, "Китайских юаней")),
    "JPY": ("392", ("R01820", 100, "Японских иен"), (508, 100, "Японских иен")),
    "KZT": ("398", ("R01335", 100, "Казахстанских тенге"), (459, 1000, "Казахстанских тенге")),
    "TRY": ("949", ("R01700J", 10, "Турецких лир"), (460, 10, "Турецких лир")),
    "PLN": ("985", ("R01565", 1, "Польский злотый"), (452, 10, "Злотых")),
    "GBP": ("826", ("R01035", 1, "Фунт стерлингов"), (429, 1, "Фунт стерлингов")),
    "CHF": ("756", ("R01775", 1, "Швейцарский франк"), (426, 1, "Швейцарский франк")),
    "BYN": ("933", ("R01090B", 1, "Белорусский рубль"), None),
    "RUB": ("643", None, (456, 100, "Российских рублей")),
}
# units of each currency per US dollar, about late 2025 (illustrative levels; walks around them)
PER_USD = {"JPY": 155.0, "KZT": 515.0, "TRY": 42.5, "PLN": 3.63, "GBP": 0.75, "CHF": 0.80}


def walk(
    days: list[date], anchors: Mapping[date, float], start: float, vol: float, rng: random.Random
) -> dict[date, float]:
    """Give a smooth series through the anchors: interpolation with a wobble that vanishes at them,
    a seeded random walk before the first anchor and after the last."""
    series: dict[date, float] = {}
    known = sorted(anchors)
    if not known:
        value = start
        for day in days:
            value *= math.exp(rng.gauss(0.0, vol) - 0.02 * math.log(value / start))
            series[day] = value
        return series
    value = anchors[known[0]]
    for day in sorted((d for d in days if d < known[0]), reverse=True):
        value *= math.exp(rng.gauss(0.0, vol))
        series[day] = value
    for left, right in itertools.pairwise(known):
        span = (right - left).days
        amplitude = rng.gauss(0.0, vol * math.sqrt(span) / 2)
        for offset in range(span):
            day = left + timedelta(days=offset)
            share = offset / span
            base = anchors[left] * (1 - share) + anchors[right] * share
            series[day] = base * (1 + amplitude * math.sin(math.pi * share))
    value = anchors[known[-1]]
    series[known[-1]] = value
    for day in (d for d in days if d > known[-1]):
        value *= math.exp(rng.gauss(0.0, vol) - 0.01 * math.log(value / anchors[known[-1]]))
        series[day] = value
    return series


def rounded(value: float | Decimal, places: int = 4) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def comma(value: Decimal) -> str:
    return format(value, "f").replace(".", ",")


def cbr_document(day: date, rates: Mapping[str, Decimal]) -> bytes:
    """Give the XML_daily document of a day, encoded as the Bank serves it."""
    parts = [
        f'<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="{day:%d.%m.%Y}" name="Foreign Currency Market">'
    ]
    for code, value in rates.items():
        numeric, cbr, _ = CURRENCIES[code]
        assert cbr is not None
        ident, nominal, name = cbr
        unit = (value / nominal).normalize()
        unit_text = comma(unit.quantize(Decimal("0.000001")) if unit.as_tuple().exponent < -6 else unit)  # type: ignore[operator]
        parts.append(
            f'<Valute ID="{ident}"><NumCode>{numeric}</NumCode><CharCode>{code}</CharCode>'
            f"<Nominal>{nominal}</Nominal><Name>{name}</Name><Value>{comma(value)}</Value>"
            f"<VunitRate>{unit_text}</VunitRate></Valute>"
        )
    parts.append("</ValCurs>")
    return "".join(parts).encode("windows-1251")


def nbrb_document(day: date, rates: Mapping[str, Decimal]) -> bytes:
    """Give the exrates/rates?ondate=...&periodicity=0 answer of a day (UTF-8 JSON)."""
    items = []
    for code, value in rates.items():
        _, _, nbrb = CURRENCIES[code]
        assert nbrb is not None
        cur_id, scale, name = nbrb
        number = format(value.normalize(), "f")
        items.append(
            f'{{"Cur_ID":{cur_id},"Date":"{day.isoformat()}T00:00:00","Cur_Abbreviation":"{code}",'
            f'"Cur_Scale":{scale},"Cur_Name":{json.dumps(name, ensure_ascii=False)},"Cur_OfficialRate":{number}}}'
        )
    return ("[" + ",".join(items) + "]").encode("utf-8")


def pack(path: Path, documents: Iterable[tuple[str, bytes]]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz", preset=9) as archive:
        for name, data in documents:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())


def main() -> None:
    rng = random.Random(SEED)
    days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]

    def cbr_nominal(code: str) -> int:
        cbr = CURRENCIES[code][1]
        assert cbr is not None
        return cbr[1]

    def anchored(code: str) -> dict[date, float]:  # RUB per unit
        return {d: float(v) / cbr_nominal(c) for (d, c), (v, _) in CBR_PUBLISHED.items() if c == code}

    rub: dict[str, dict[date, float]] = {
        "USD": walk(days, anchored("USD"), 80.0, 0.006, rng),
        "EUR": walk(days, anchored("EUR"), 93.0, 0.006, rng),
        "CNY": walk(days, anchored("CNY"), 11.1, 0.005, rng),
    }
    for code, level in PER_USD.items():
        per_usd_anchors = {d: rub["USD"][d] / value for d, value in anchored(code).items()}
        per_usd = walk(days, per_usd_anchors, level, 0.004, rng)
        rub[code] = {d: rub["USD"][d] / per_usd[d] for d in days}

    cbr_dates = rate_dates(RU_DAYS_OFF | illustrative_days_off(RU_FIXED_HOLIDAYS), RU_WORKING_SATURDAYS)
    assert {d for d, _ in CBR_PUBLISHED} <= set(cbr_dates), "a published CBR rate on a day it sets none"
    for earlier, later in itertools.pairwise(cbr_dates):  # bar the break the Bank announced (2025-26)
        announced = earlier == date(2025, 12, 31)
        assert announced or later - earlier <= MAX_RATE_AGE + timedelta(days=1), (
            f"no CBR rate {earlier}..{later}"
        )
    by_dates = rate_dates(BY_DAYS_OFF | illustrative_days_off(BY_FIXED_HOLIDAYS), BY_WORKING_SATURDAYS)
    set_on = {day: max(d for d in by_dates if d <= day) for day in days if day >= by_dates[0]}

    def by_anchored(code: str, per: int) -> dict[date, float]:
        anchors: dict[date, float] = {}
        for (d, c), (v, _) in NBRB_PUBLISHED.items():
            if c == code:
                assert set_on[d] not in anchors, f"two published NBRB {code} rates for one setting"
                anchors[set_on[d]] = float(v) / per
        return anchors

    rouble_anchors = by_anchored("RUB", 100)
    for d, value in anchored("BYN").items():  # the CBR's BYN is the inverse of the rouble in BYN
        assert d not in rouble_anchors, "a CBR BYN rate on the day of an NBRB RUB rate"
        rouble_anchors[d] = 1 / value
    byn = {  # BYN per unit
        "USD": walk(days, by_anchored("USD", 1), 2.95, 0.004, rng),
        "EUR": walk(days, by_anchored("EUR", 1), 3.43, 0.004, rng),
        "RUB": walk(days, rouble_anchors, 0.0371, 0.004, rng),
    }
    for code in ("CNY", "JPY", "KZT", "TRY", "PLN", "GBP", "CHF"):
        byn[code] = {d: rub[code][d] * byn["RUB"][d] for d in days}
    rub["BYN"] = {d: 1 / byn["RUB"][d] for d in days}

    cbr_codes = ["USD", "EUR", "CNY", "JPY", "KZT", "TRY", "PLN", "GBP", "CHF", "BYN"]
    nbrb_codes = ["USD", "EUR", "CNY", "JPY", "KZT", "TRY", "PLN", "RUB", "GBP", "CHF"]
    cbr_docs, nbrb_docs = [], []
    for day in cbr_dates:
        values = {}
        for code in cbr_codes:
            nominal = CURRENCIES[code][1][1]  # type: ignore[index]
            published = CBR_PUBLISHED.get((day, code))
            values[code] = Decimal(published[0]) if published else rounded(rub[code][day] * nominal)
        cbr_docs.append((f"{day.isoformat()}.xml", cbr_document(day, values)))
    for day in sorted(set_on):
        values = {}
        for code in nbrb_codes:
            scale = CURRENCIES[code][2][1]  # type: ignore[index]
            published = NBRB_PUBLISHED.get((day, code))
            values[code] = Decimal(published[0]) if published else rounded(byn[code][set_on[day]] * scale)
            assert published is None or values[code] == rounded(byn[code][set_on[day]] * scale)
        nbrb_docs.append((f"{day.isoformat()}.json", nbrb_document(day, values)))

    OUT.mkdir(parents=True, exist_ok=True)
    pack(OUT / "cbr_daily.tar.xz", cbr_docs)
    pack(OUT / "nbrb_daily.tar.xz", nbrb_docs)
    published = [
        {
            "authority": "CBR",
            "date": d.isoformat(),
            "currency": c,
            "nominal": cbr_nominal(c),
            "rate": v,
            "source": s,
        }
        for (d, c), (v, s) in sorted(CBR_PUBLISHED.items())
    ] + [
        {
            "authority": "NBRB",
            "date": d.isoformat(),
            "currency": c,
            "nominal": CURRENCIES[c][2][1],  # type: ignore[index]
            "rate": v,
            "source": s,
        }
        for (d, c), (v, s) in sorted(NBRB_PUBLISHED.items())
    ]
    manifest = {
        "version": "2026-11-27",
        "source": "scripts/generate_rate_samples.py",
        "notes": (
            "Daily documents in the banks' formats: CBR one per rate date (the day after each Russian "
            "working day), NBRB one per calendar day, from "
            f"{FIRST.isoformat()} to {LAST.isoformat()}. Only the values under `published` were checked "
            "against a publication (each with its source); every other value is ILLUSTRATIVE and is "
            "stored with illustrative = true. The document dates follow the published production "
            f"calendars up to {PUBLISHED_CALENDARS_END.isoformat()} and an illustrative calendar after it "
            "(the fixed public holidays, no transfers)."
        ),
        "archives": {"CBR": "cbr_daily.tar.xz", "NBRB": "nbrb_daily.tar.xz"},
        "published": published,
    }
    (OUT / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(
        f"CBR {len(cbr_docs)} documents, NBRB {len(nbrb_docs)} documents, {len(published)} published values"
    )


if __name__ == "__main__":
    main()
