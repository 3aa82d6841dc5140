"""Response bodies of the rates endpoints."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from tamga.rates.domain import ExchangeRate
from tamga.rates.service import ImportSummary


class AuthorityCode(StrEnum):
    CBR = "CBR"
    NBRB = "NBRB"


class Rate(BaseModel):
    """A rate in force: `rate` units of `base` for `nominal` units of `currency`."""

    authority: AuthorityCode
    currency: str
    base: str
    nominal: int
    rate: Decimal
    per_unit: Decimal = Field(description="units of base for one unit of the currency, unrounded")
    rate_date: dt.date = Field(description="the date the bank set the rate for (in force from)")
    illustrative: bool = Field(description="true for sample values not published by the bank")


class RateInForce(Rate):
    day: dt.date = Field(description="the day asked about")


class RateDay(BaseModel):
    """Every rate of one authority in force on a day."""

    authority: AuthorityCode
    base: str
    day: dt.date
    rates: list[Rate]


class ImportResult(BaseModel):
    """What importing one daily document did."""

    authority: AuthorityCode
    rate_date: dt.date
    currencies: int
    added: int
    unchanged: int
    replaced: list[str]
    source: str


def rate_view(rate: ExchangeRate) -> Rate:
    return Rate(
        authority=AuthorityCode(rate.authority),
        currency=rate.currency,
        base=rate.base,
        nominal=rate.nominal,
        rate=rate.rate,
        per_unit=rate.per_unit,
        rate_date=rate.date,
        illustrative=rate.illustrative,
    )


def import_view(summary: ImportSummary) -> ImportResult:
    return ImportResult(
        authority=AuthorityCode(summary.authority),
        rate_date=summary.day,
        currencies=summary.currencies,
        added=summary.added,
        unchanged=summary.unchanged,
        replaced=list(summary.replaced),
        source=summary.source,
    )
