"""Use cases of exchange rates: the rate in force, a day's table, importing the banks' documents, the samples."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit.service import record
from tamga.kit.clock import utcnow
from tamga.kit.db import engine_of
from tamga.kit.errors import Conflict, FieldError, ValidationFailed
from tamga.models.rates import ExchangeRateRow
from tamga.rates import repository
from tamga.rates.bundled import sample_rates
from tamga.rates.domain import (
    AUTHORITY_BASE,
    AUTHORITY_OF_STATE,
    Authority,
    DailyRates,
    ExchangeRate,
    MalformedRateFile,
    RateNotFound,
    RateTable,
    convert,
    detect_authority,
    national_rate,
    parse_daily,
    still_in_force,
)

__all__ = [
    "AUTHORITY_OF_STATE",
    "ImportSummary",
    "RateNotFound",
    "RateTable",
    "convert",
    "day_table",
    "import_document",
    "in_force",
    "load_samples",
    "rate_on",
    "rate_table",
]

SAMPLES_ACTOR: Final = "system:rate-samples"


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What importing one daily document did."""

    authority: Authority
    day: date
    currencies: int
    added: int
    unchanged: int
    replaced: tuple[str, ...]
    source: str


def _authority(authority: str, field: str = "authority") -> Authority:
    code = authority.strip().upper()
    if code not in AUTHORITY_BASE:
        raise ValidationFailed([FieldError(field, f"unknown authority {authority!r}: CBR or NBRB")])
    return "CBR" if code == "CBR" else "NBRB"


async def rate_on(
    session: AsyncSession, *, authority: Authority, currency: str, day: date, field: str = "currency"
) -> ExchangeRate:
    """Give the rate in force on the day: the latest dated on or before it, at most 10 days old
    (longer only through a holiday period the bank announced, `domain.ANNOUNCED_IN_FORCE`).

    The authority's own currency is 1. Raises RateNotFound (422 naming `field`) otherwise.
    """
    chosen = _authority(authority)
    code = currency.strip().upper()
    if code == AUTHORITY_BASE[chosen]:
        return national_rate(chosen, day)
    row = await repository.latest_on_or_before(session, chosen, code, day)
    rate = repository.as_rate(row) if row is not None else None
    if rate is None or not still_in_force(rate, day):
        raise RateNotFound(field=field, authority=chosen, currency=code, day=day)
    return rate


async def rate_table(
    session: AsyncSession, *, authority: Authority, day: date, currencies: Iterable[str]
) -> RateTable:
    """Give the rates in force on the day for the currencies, in one query; absent ones raise at `get`."""
    chosen = _authority(authority)
    wanted = {c.strip().upper() for c in currencies} - {AUTHORITY_BASE[chosen]}
    rows = await repository.in_window(session, chosen, day, wanted) if wanted else ()
    return RateTable(chosen, day, _newest(rows, day))


async def day_table(session: AsyncSession, *, authority: Authority, day: date) -> RateTable:
    """Give every rate of the authority in force on the day."""
    chosen = _authority(authority)
    return RateTable(chosen, day, _newest(await repository.in_window(session, chosen, day, None), day))


# `in_force` keeps each day's table a short while per database (engine), for the hot paths that need
# rates on every request (a transit lodging's amount at stake). An import or a replacement committed
# in this process empties it at once; one committed by another process reaches it within this time.
IN_FORCE_CACHE_S: Final = 60.0
_in_force: WeakKeyDictionary[Engine, dict[tuple[str, date], tuple[float, RateTable]]] = WeakKeyDictionary()


async def in_force(session: AsyncSession, *, authority: Authority, day: date) -> RateTable:
    """Give every rate of the authority in force on the day, as `day_table` does, kept for at most
    IN_FORCE_CACHE_S seconds (see above): for estimates made on every request, not for assessments."""
    chosen = _authority(authority)
    tables = _in_force.setdefault(engine_of(session), {})
    now = time.monotonic()
    kept = tables.get((chosen, day))
    if kept is not None and kept[0] > now:
        return kept[1]
    table = await day_table(session, authority=chosen, day=day)
    for key in [k for k, (until, _) in tables.items() if until <= now]:
        del tables[key]
    tables[(chosen, day)] = (now + IN_FORCE_CACHE_S, table)
    return table


def _forget_in_force(session: AsyncSession) -> None:
    """Empty `in_force`'s tables now, and again once this session's new rates are committed (a table
    read in between, before the commit, would otherwise be kept)."""
    _forget_all()
    if not event.contains(session.sync_session, "after_commit", _forget_all):
        event.listen(session.sync_session, "after_commit", _forget_all)


def _forget_all(*_: Any) -> None:
    _in_force.clear()


def _newest(rows: Iterable[ExchangeRateRow], day: date) -> dict[str, ExchangeRate]:
    newest: dict[str, ExchangeRate] = {}
    for row in rows:  # ordered by currency, then newest first
        if row.currency not in newest:
            newest[row.currency] = repository.as_rate(row)
    return {code: rate for code, rate in newest.items() if still_in_force(rate, day)}


async def import_document(
    session: AsyncSession,
    data: bytes,
    *,
    actor: str,
    authority: str | None = None,
    replace: bool = False,
    source: str = "upload",
    illustrative: bool = False,
) -> ImportSummary:
    """Import one bank's daily document: new rates are added, equal ones left, differing ones refused.

    A differing value for a day already stored is a 409 unless `replace`; each replacement is audited.
    Nothing is written when any part of the document is at fault.
    """
    detected = detect_authority(data)
    if authority is not None:
        chosen = _authority(authority)
        if chosen != detected:
            kind = "an XML document (CBR)" if detected == "CBR" else "a JSON document (NBRB)"
            raise MalformedRateFile([FieldError("authority", f"{chosen} was given, but the body is {kind}")])
    daily = parse_daily(data, detected, illustrative=illustrative)
    return await _store_day(session, daily, actor=actor, replace=replace, source=source)


async def _store_day(
    session: AsyncSession, daily: DailyRates, *, actor: str, replace: bool, source: str
) -> ImportSummary:
    stored = await repository.of_day(session, daily.authority, daily.day)
    new: list[ExchangeRate] = []
    differing: list[tuple[ExchangeRate, ExchangeRate]] = []
    unchanged = 0
    for rate in daily.rates:
        row = stored.get(rate.currency)
        if row is None:
            new.append(rate)
            continue
        old = repository.as_rate(row)
        if _same(old, rate):
            unchanged += 1
        else:
            differing.append((old, rate))
    if differing and not replace:
        raise Conflict(
            f"{daily.authority} rates of {daily.day.isoformat()} are already stored with other values; "
            "import with replace to overwrite them",
            errors=[
                FieldError(
                    f"body.{new_.currency}",
                    f"stored {old.rate} per {old.nominal}, the document says {new_.rate} per {new_.nominal}",
                )
                for old, new_ in differing
            ],
        )
    now = utcnow()
    added = await repository.insert_new(session, [(r, source) for r in new], imported_at=now)
    if added != len(new):
        # another import of the same day won the race: accept only if it stored the same values
        await _check_raced(session, daily, new)
    for old, new_ in differing:
        await repository.replace(session, new_, source=source, imported_at=now)
        record(
            session,
            actor=actor,
            action="rates.replace",
            entity_type="exchange_rate",
            entity_id=f"{new_.authority}:{new_.currency}:{new_.date.isoformat()}",
            before=_audit_view(old),
            after={**_audit_view(new_), "source": source},
        )
    if added or differing:
        _forget_in_force(session)
        record(
            session,
            actor=actor,
            action="rates.import",
            entity_type="exchange_rates",
            entity_id=f"{daily.authority}:{daily.day.isoformat()}",
            before=None,
            after={
                "source": source,
                "added": added,
                "unchanged": unchanged,
                "replaced": [r.currency for _, r in differing],
            },
        )
    return ImportSummary(
        authority=daily.authority,
        day=daily.day,
        currencies=len(daily.rates),
        added=added,
        unchanged=unchanged + len(new) - added,
        replaced=tuple(r.currency for _, r in differing),
        source=source,
    )


async def _check_raced(session: AsyncSession, daily: DailyRates, new: list[ExchangeRate]) -> None:
    stored = await repository.of_day(session, daily.authority, daily.day)
    errors = [
        FieldError(f"body.{rate.currency}", "stored concurrently with another value")
        for rate in new
        if not _same(repository.as_rate(stored[rate.currency]), rate)
    ]
    if errors:
        raise Conflict("a concurrent import stored other values for this day", errors=errors)


def _same(a: ExchangeRate, b: ExchangeRate) -> bool:
    return a.nominal == b.nominal and a.rate == b.rate


def _audit_view(rate: ExchangeRate) -> dict[str, object]:
    return {"nominal": rate.nominal, "rate": str(rate.rate), "illustrative": rate.illustrative}


async def load_samples(session: AsyncSession) -> int:
    """Import the bundled sample documents of both banks (idempotent); give the rows added. Caller commits.

    Rates already stored (say, imported from the banks) are left as they are.
    """
    samples = _samples()
    days = [rate.date for rate, _ in samples]
    stored = await repository.keys_between(session, min(days), max(days))
    missing = [(r, s) for r, s in samples if (r.authority, r.currency, r.date) not in stored]
    added = await repository.insert_new(session, missing, imported_at=utcnow()) if missing else 0
    if added:
        _forget_in_force(session)
        record(
            session,
            actor=SAMPLES_ACTOR,
            action="rates.load_samples",
            entity_type="exchange_rates",
            entity_id="samples",
            before=None,
            after={"added": added, "rates": len(samples)},
        )
    return added


@functools.cache
def _samples() -> tuple[tuple[ExchangeRate, str], ...]:
    return tuple((item.rate, item.archive) for item in sample_rates())
