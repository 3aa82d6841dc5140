"""The rates over HTTP, on both backends: any principal reads, only an administrator imports."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from tests.rates.fixtures import cbr_xml, nbrb_json
from tests.support.builders import admin, ok, user

XML = {"Content-Type": "application/xml"}


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_import_then_read_the_rate_in_force(http: httpx.AsyncClient) -> None:
    day = date(2032, 1, 9)  # a Friday: the rate dated Saturday is in force on Sunday too
    headers = await admin(http)
    url = "/api/v1/rates/import?authority=CBR"
    summary = ok(await http.post(url, content=cbr_xml(day), headers={**headers, **XML}))
    assert summary == {
        "authority": "CBR",
        "rate_date": "2032-01-09",
        "currencies": 4,
        "added": 4,
        "unchanged": 0,
        "replaced": [],
        "source": summary["source"],
    }
    again = ok(await http.post(url, content=cbr_xml(day), headers={**headers, **XML}))
    assert (again["added"], again["unchanged"]) == (0, 4)

    officer = await user(http, "tax_officer", country="BY")
    rate = ok(
        await http.get(
            "/api/v1/rates",
            params={"authority": "CBR", "currency": "jpy", "date": "2032-01-11"},
            headers=officer,
        )
    )
    assert rate == {
        "authority": "CBR",
        "currency": "JPY",
        "base": "RUB",
        "nominal": 100,
        "rate": "49.8237",
        "per_unit": "0.498237",
        "rate_date": "2032-01-09",
        "illustrative": False,
        "day": "2032-01-11",
    }
    listing = ok(await http.get("/api/v1/rates/CBR", params={"date": "2032-01-10"}, headers=officer))
    assert [r["currency"] for r in listing["rates"]] == ["BYN", "JPY", "KZT", "USD"]
    assert listing["base"] == "RUB" and listing["day"] == "2032-01-10"


async def test_a_different_value_is_a_conflict_until_replaced(http: httpx.AsyncClient) -> None:
    day = date(2032, 2, 3)
    headers = await admin(http)
    ok(await http.post("/api/v1/rates/import", content=nbrb_json(day, usd=2.9), headers=headers))
    clash = _problem(
        await http.post("/api/v1/rates/import", content=nbrb_json(day, usd=2.95), headers=headers), 409
    )
    assert clash["errors"][0]["field"] == "body.USD"
    replaced = ok(
        await http.post(
            "/api/v1/rates/import?replace=true", content=nbrb_json(day, usd=2.95), headers=headers
        )
    )
    assert replaced["replaced"] == ["USD"] and replaced["authority"] == "NBRB"
    rate = ok(
        await http.get(
            "/api/v1/rates",
            params={"authority": "NBRB", "currency": "USD", "date": "2032-02-03"},
            headers=headers,
        )
    )
    assert rate["rate"] == "2.9500"


async def test_refusals_are_problems(http: httpx.AsyncClient) -> None:
    headers = await admin(http)
    officer = await user(http, "tax_officer", country="RU")
    body = cbr_xml(date(2032, 3, 2))
    _problem(await http.post("/api/v1/rates/import", content=body), 401)
    _problem(await http.post("/api/v1/rates/import", content=body, headers={**officer, **XML}), 403)
    bad = _problem(
        await http.post(
            "/api/v1/rates/import", content=body.replace(b"49,8237", b"49.8237"), headers=headers
        ),
        422,
    )
    assert bad["errors"][0]["field"] == "body.ValCurs.Valute[1].Value"
    missing = _problem(
        await http.get(
            "/api/v1/rates",
            params={"authority": "NBRB", "currency": "EUR", "date": "2032-03-02"},
            headers=officer,
        ),
        422,
    )
    assert missing["errors"][0]["field"] == "query.currency" and "NBRB" in missing["errors"][0]["reason"]
    _problem(
        await http.get(
            "/api/v1/rates",
            params={"authority": "ECB", "currency": "EUR", "date": "2032-03-02"},
            headers=officer,
        ),
        422,
    )
    _problem(await http.get("/api/v1/rates/CBR", params={"date": "not-a-date"}, headers=officer), 422)
    _problem(await http.get("/api/v1/rates/CBR", params={"date": "2032-03-02"}), 401)


async def test_edges_of_the_calendar_and_garbage_are_refused_not_crashes(http: httpx.AsyncClient) -> None:
    headers = await admin(http)
    for day in ("0001-01-01", "9999-12-31"):
        params = {"authority": "CBR", "currency": "USD", "date": day}
        _problem(await http.get("/api/v1/rates", params=params, headers=headers), 422)
        listing = ok(await http.get("/api/v1/rates/NBRB", params={"date": day}, headers=headers))
        assert listing["rates"] == []
    for garbage in (b"", b"\x00\xff<", b"<ValCurs Date='01.01.0001'></ValCurs>", b'[{"Date": null}]'):
        _problem(await http.post("/api/v1/rates/import", content=garbage, headers=headers), 422)
