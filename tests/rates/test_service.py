"""The rates in force, from the database, on both backends."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tamga.kit.clock import utcnow
from tamga.kit.db import commit
from tamga.rates.bundled import sample_rates
from tamga.rates.domain import RateNotFound
from tamga.rates.service import AUTHORITY_OF_STATE, convert, load_samples, rate_on, rate_table

COVERED = [
    date(2025, 11, 1),
    date(2025, 12, 31),
    date(2026, 1, 12),
    date(2026, 6, 14),
    date(2026, 12, 31),
    date(2027, 1, 8),  # the end of the first New Year break on the illustrative calendar
    date(2028, 6, 1),
    date(2030, 12, 31),
]
CBR_CODES = ["USD", "EUR", "CNY", "JPY", "KZT", "TRY", "PLN", "BYN", "GBP", "CHF"]
NBRB_CODES = ["USD", "EUR", "CNY", "JPY", "KZT", "TRY", "PLN", "RUB", "GBP", "CHF"]


@pytest.fixture
async def samples(backend: Any) -> Any:
    async with backend.db.session() as session:
        await load_samples(session)
        await commit(session)
    return backend


async def test_load_samples_is_idempotent(samples: Any) -> None:
    async with samples.db.session() as session:
        assert await load_samples(session) == 0


@pytest.mark.parametrize("day", COVERED)
async def test_every_needed_currency_has_a_rate_in_force(samples: Any, day: date) -> None:
    async with samples.db.session() as session:
        cbr = await rate_table(session, authority="CBR", day=day, currencies=CBR_CODES)
        nbrb = await rate_table(session, authority="NBRB", day=day, currencies=NBRB_CODES)
    for code in CBR_CODES:
        assert cbr.get(code).rate > 0
    for code in NBRB_CODES:
        assert nbrb.get(code).rate > 0
    assert cbr.get("JPY").nominal == 100 and cbr.get("KZT").nominal == 100 and cbr.get("TRY").nominal == 10
    assert nbrb.get("RUB").nominal == 100


async def test_samples_reach_a_year_beyond_today(samples: Any) -> None:
    """The demo and the tests lodge at today's rates: this fails a year before the samples run out,
    not on the day every foreign-currency lodging starts being refused (extend `LAST` in
    scripts/generate_rate_samples.py and run it)."""
    last = max(item.rate.date for item in sample_rates())
    assert last - utcnow().date() >= timedelta(days=365), f"the sample rates end on {last}"
    async with samples.db.session() as session:
        for authority, codes in (("CBR", CBR_CODES), ("NBRB", NBRB_CODES)):
            table = await rate_table(session, authority=authority, day=last, currencies=codes)
            assert all(table.get(code).rate > 0 for code in codes)


async def test_published_value_is_served_not_illustrative(samples: Any) -> None:
    async with samples.db.session() as session:
        # set by the Bank of Russia on 13 January 2026 for 14 January (1prime.ru, 13.01.2026)
        usd = await rate_on(session, authority="CBR", currency="usd", day=date(2026, 1, 14))
        assert (usd.rate, usd.nominal, usd.illustrative) == (Decimal("78.8527"), 1, False)
        assert usd.date == date(2026, 1, 14)
        # the rate set on 30 December 2025 is in force from 31 December to 12 January
        held = await rate_on(session, authority="CBR", currency="EUR", day=date(2026, 1, 12))
        assert held.date == date(2025, 12, 31)
        rub = await rate_on(
            session, authority=AUTHORITY_OF_STATE["RU"], currency="RUB", day=date(2026, 1, 12)
        )
        assert rub.rate == 1 and convert(Decimal("12.34"), rub) == Decimal("12.34")


async def test_no_rate_names_the_field(samples: Any) -> None:
    beyond = max(item.rate.date for item in sample_rates()) + timedelta(days=30)
    async with samples.db.session() as session:
        with pytest.raises(RateNotFound) as caught:
            await rate_on(
                session, authority="CBR", currency="USD", day=beyond, field="body.items[2].currency"
            )
    assert caught.value.errors[0].field == "body.items[2].currency"
    assert "CBR" in caught.value.errors[0].reason and beyond.isoformat() in caught.value.errors[0].reason
