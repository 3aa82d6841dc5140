"""Daily documents shaped exactly as the banks serve them, for the tests."""

from __future__ import annotations

import json
from datetime import date

CBR_TEMPLATE = (
    '<?xml version="1.0" encoding="windows-1251"?>'
    '<ValCurs Date="{day}" name="Foreign Currency Market">'
    '<Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal>'
    "<Name>Доллар США</Name><Value>{usd}</Value><VunitRate>{usd}</VunitRate></Valute>"
    '<Valute ID="R01820"><NumCode>392</NumCode><CharCode>JPY</CharCode><Nominal>100</Nominal>'
    "<Name>Японских иен</Name><Value>49,8237</Value><VunitRate>0,498237</VunitRate></Valute>"
    '<Valute ID="R01335"><NumCode>398</NumCode><CharCode>KZT</CharCode><Nominal>100</Nominal>'
    "<Name>Казахстанских тенге</Name><Value>15,1904</Value><VunitRate>0,151904</VunitRate></Valute>"
    '<Valute ID="R01090B"><NumCode>933</NumCode><CharCode>BYN</CharCode><Nominal>1</Nominal>'
    "<Name>Белорусский рубль</Name><Value>26,7744</Value><VunitRate>26,7744</VunitRate></Valute>"
    "</ValCurs>"
)


def cbr_xml(day: date, usd: str = "78,2267", template: str = CBR_TEMPLATE) -> bytes:
    """Give an XML_daily document, encoded in windows-1251 as the Bank of Russia serves it."""
    return template.format(day=day.strftime("%d.%m.%Y"), usd=usd).encode("windows-1251")


def nbrb_json(day: date, usd: float = 2.9, rub: float = 3.7085) -> bytes:
    """Give an exrates/rates answer of the National Bank of Belarus (the rouble per 100)."""
    stamp = f"{day.isoformat()}T00:00:00"
    return json.dumps(
        [
            {
                "Cur_ID": 431,
                "Date": stamp,
                "Cur_Abbreviation": "USD",
                "Cur_Scale": 1,
                "Cur_Name": "Доллар США",
                "Cur_OfficialRate": usd,
            },
            {
                "Cur_ID": 456,
                "Date": stamp,
                "Cur_Abbreviation": "RUB",
                "Cur_Scale": 100,
                "Cur_Name": "Российских рублей",
                "Cur_OfficialRate": rub,
            },
            {
                "Cur_ID": 459,
                "Date": stamp,
                "Cur_Abbreviation": "KZT",
                "Cur_Scale": 1000,
                "Cur_Name": "Казахстанских тенге",
                "Cur_OfficialRate": 5.6312,
            },
        ],
        ensure_ascii=False,
    ).encode("utf-8")
