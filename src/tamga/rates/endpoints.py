"""HTTP endpoints of the rates package (mounted under /api/v1 by tamga.app). Thin: translate, call, commit."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from tamga.auth.deps import CurrentPrincipal, require_roles
from tamga.auth.domain import Principal, Role
from tamga.kit.db import commit
from tamga.kit.http import SessionDep
from tamga.rates import schemas, service

router = APIRouter(tags=["rates"])
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMINISTRATOR))]
Currency = Annotated[str, Query(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code")]

_DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "description": "the bank's daily document as published: the Bank of Russia's XML_daily "
        "(windows-1251) or the National Bank of Belarus's exrates/rates JSON",
        "content": {
            "application/xml": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


@router.get("/rates", response_model=schemas.RateInForce)
async def rate_in_force(
    session: SessionDep,
    _principal: CurrentPrincipal,
    authority: schemas.AuthorityCode,
    currency: Currency,
    date: dt.date,
) -> schemas.RateInForce:
    """Give the rate in force on a day and the date the bank set it for."""
    rate = await service.rate_on(
        session, authority=authority.value, currency=currency, day=date, field="query.currency"
    )
    return schemas.RateInForce(**schemas.rate_view(rate).model_dump(), day=date)


@router.get("/rates/{authority}", response_model=schemas.RateDay)
async def rates_of_day(
    authority: schemas.AuthorityCode, date: dt.date, session: SessionDep, _principal: CurrentPrincipal
) -> schemas.RateDay:
    """List every rate of the authority in force on a day."""
    table = await service.day_table(session, authority=authority.value, day=date)
    rates = [schemas.rate_view(table.rates[code]) for code in sorted(table.rates)]
    return schemas.RateDay(authority=authority, base=table.base, day=date, rates=rates)


@router.post("/rates/import", response_model=schemas.ImportResult, openapi_extra=_DOCUMENT_BODY)
async def import_rates(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    authority: schemas.AuthorityCode | None = None,
    replace: bool = False,
) -> schemas.ImportResult:
    """Import a bank's daily document; a differing value for a stored day needs `replace=true`."""
    data = await request.body()
    summary = await service.import_document(
        session,
        data,
        actor=admin.subject,
        authority=authority.value if authority else None,
        replace=replace,
        source=f"api upload by {admin.subject}",
    )
    await commit(session)
    return schemas.import_view(summary)
