"""Importing the banks' documents into the database, on both backends."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from tests.rates.fixtures import cbr_xml, nbrb_json

from tamga.audit.service import verify
from tamga.kit.db import commit
from tamga.kit.errors import Conflict
from tamga.models.audit import AuditRecord
from tamga.rates import repository
from tamga.rates.domain import ExchangeRate, MalformedRateFile, RateNotFound, in_force
from tamga.rates.service import import_document, rate_on, rate_table

ACTOR = "user:test-rates"


async def _import(backend: Any, data: bytes, **options: Any) -> Any:
    async with backend.db.session() as session:
        summary = await import_document(session, data, actor=ACTOR, source="test", **options)
        await commit(session)
        return summary


async def _audit(backend: Any, entity_id: str) -> list[AuditRecord]:
    async with backend.db.session() as session:
        stmt = select(AuditRecord).where(AuditRecord.entity_id == entity_id).order_by(AuditRecord.id)
        return list((await session.execute(stmt)).scalars())


async def test_import_then_the_same_file_again_is_a_no_op(backend: Any) -> None:
    day = date(2031, 4, 1)
    first = await _import(backend, cbr_xml(day))
    assert (first.authority, first.day, first.added, first.unchanged, first.replaced) == (
        "CBR",
        day,
        4,
        0,
        (),
    )
    again = await _import(backend, cbr_xml(day), authority="cbr")
    assert (again.added, again.unchanged, again.replaced) == (0, 4, ())
    records = await _audit(backend, f"CBR:{day.isoformat()}")
    assert [r.action for r in records] == ["rates.import"]  # the no-op recorded nothing
    assert records[0].actor == ACTOR and records[0].after == {
        "source": "test",
        "added": 4,
        "unchanged": 0,
        "replaced": [],
    }
    async with backend.db.session() as session:
        jpy = await rate_on(session, authority="CBR", currency="JPY", day=date(2031, 4, 3))
    assert (jpy.date, jpy.nominal, jpy.rate, jpy.illustrative) == (day, 100, Decimal("49.8237"), False)


async def test_a_different_value_is_refused_unless_replaced_and_audited(backend: Any) -> None:
    day = date(2031, 4, 8)
    await _import(backend, cbr_xml(day, usd="78,2267"))
    with pytest.raises(Conflict) as caught:
        await _import(backend, cbr_xml(day, usd="79,0001"))
    assert caught.value.errors[0].field == "body.USD"
    assert "stored 78.2267 per 1" in caught.value.errors[0].reason
    async with backend.db.session() as session:
        assert (await rate_on(session, authority="CBR", currency="USD", day=day)).rate == Decimal("78.2267")

    replaced = await _import(backend, cbr_xml(day, usd="79,0001"), replace=True)
    assert (replaced.added, replaced.unchanged, replaced.replaced) == (0, 3, ("USD",))
    async with backend.db.session() as session:
        assert (await rate_on(session, authority="CBR", currency="USD", day=day)).rate == Decimal("79.0001")
    [record] = await _audit(backend, f"CBR:USD:{day.isoformat()}")
    assert record.action == "rates.replace" and record.actor == ACTOR
    assert record.before == {"nominal": 1, "rate": "78.2267", "illustrative": False}
    assert record.after is not None and record.after["rate"] == "79.0001"
    async with backend.db.session() as session:
        assert (await verify(session)).ok


async def test_a_malformed_file_imports_nothing(backend: Any) -> None:
    day = date(2031, 4, 15)
    good_then_bad = cbr_xml(day).replace(b"<Value>15,1904</Value>", b"<Value>15.1904</Value>")
    with pytest.raises(MalformedRateFile) as caught:
        await _import(backend, good_then_bad)
    assert caught.value.errors[0].field == "body.ValCurs.Valute[2].Value"
    async with backend.db.session() as session:
        assert await repository.of_day(session, "CBR", day) == {}
    with pytest.raises(MalformedRateFile) as wrong:
        await _import(backend, nbrb_json(day), authority="CBR")
    assert wrong.value.errors[0].field == "authority"


async def test_nbrb_rouble_per_100_and_staleness_in_the_database(backend: Any) -> None:
    day = date(2031, 5, 6)
    await _import(backend, nbrb_json(day, usd=2.9, rub=3.7085))
    async with backend.db.session() as session:
        table = await rate_table(
            session, authority="NBRB", day=date(2031, 5, 16), currencies=["rub", "USD", "BYN"]
        )
        assert table.get("RUB").nominal == 100
        assert table.convert(Decimal("1000000.00"), "RUB") == Decimal("37085.0000")
        assert table.get("BYN").rate == 1
        with pytest.raises(RateNotFound) as caught:
            await rate_on(
                session, authority="NBRB", currency="USD", day=date(2031, 5, 17), field="body.currency"
            )
        assert caught.value.errors[0].field == "body.currency"
        stale = await rate_table(session, authority="NBRB", day=date(2031, 5, 17), currencies=["USD"])
        with pytest.raises(RateNotFound):
            stale.get("USD")
        with pytest.raises(RateNotFound):
            await rate_on(session, authority="NBRB", currency="USD", day=date(2031, 5, 5))


async def test_database_lookup_agrees_with_the_pure_rule(backend: Any) -> None:
    rng = random.Random(4)
    day, dated = date(2034, 1, 2), []
    for _ in range(25):
        day += timedelta(days=rng.choice([1, 1, 1, 3, 4, 9, 10, 11, 14]))
        usd = f"{rng.randint(60, 110)},{rng.randint(0, 9999):04d}"
        await _import(backend, cbr_xml(day, usd=usd))
        dated.append(
            ExchangeRate(day, "CBR", "RUB", "USD", 1, Decimal(usd.replace(",", ".")), illustrative=False)
        )
    async with backend.db.session() as session:
        probe = date(2034, 1, 1)
        while probe <= day + timedelta(days=12):
            expected = in_force(dated, probe)
            table = await rate_table(session, authority="CBR", day=probe, currencies=["USD"])
            try:
                found = await rate_on(session, authority="CBR", currency="USD", day=probe)
            except RateNotFound:
                found = None
            assert found == expected, probe
            assert table.rates.get("USD") == expected, probe
            probe += timedelta(days=1)
