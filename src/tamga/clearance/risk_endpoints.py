"""/risk-profiles and /risk-selection-rates: risk management over HTTP. Thin: each route translates, calls the service, commits once.

Customs officers (for the profiles of their own state) and administrators (for every profile) manage
profiles; administrators set the random selection rates; see `tamga.clearance.risk_service`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from tamga.auth.deps import require_roles
from tamga.auth.domain import Principal, Role
from tamga.clearance import risk_schemas as schemas
from tamga.clearance import risk_service as service
from tamga.kit.db import commit
from tamga.kit.http import SessionDep
from tamga.kit.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor

router = APIRouter(tags=["risk"])
RiskStaff = Annotated[Principal, Depends(require_roles(Role.CUSTOMS_OFFICER))]
Code = Annotated[str, Path(max_length=40, description="the profile's code")]


@router.post("/risk-profiles", response_model=schemas.RiskProfile, status_code=status.HTTP_201_CREATED)
async def create_profile(
    body: schemas.RiskProfileCreate, session: SessionDep, principal: RiskStaff
) -> schemas.RiskProfile:
    """Create a risk profile with its first version; a bad condition is refused naming the field."""
    profile, versions = await service.create_profile(session, principal, body)
    result = service.view(profile, versions)
    await commit(session)
    return result


@router.get("/risk-profiles", response_model=Page[schemas.RiskProfile])
async def list_profiles(
    session: SessionDep,
    principal: RiskStaff,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[schemas.RiskProfile]:
    """List the risk profiles with their versions."""
    rows = await service.list_profiles(session, principal, after=decode_cursor(cursor), limit=limit)
    items = [service.view(p, v) for p, v in rows]
    return Page(items=items, next_cursor=encode_cursor(rows[-1][0].id) if len(rows) == limit else None)


@router.get("/risk-profiles/{code}", response_model=schemas.RiskProfile)
async def get_profile(code: Code, session: SessionDep, principal: RiskStaff) -> schemas.RiskProfile:
    """Give a risk profile with every version and the one in force now."""
    return service.view(*await service.get_profile(session, principal, code))


@router.post(
    "/risk-profiles/{code}/versions", response_model=schemas.RiskProfile, status_code=status.HTTP_201_CREATED
)
async def add_version(
    code: Code, body: schemas.RiskProfileVersionCreate, session: SessionDep, principal: RiskStaff
) -> schemas.RiskProfile:
    """Give a profile a new version, effective from a date (versions are never changed)."""
    profile, versions = await service.add_version(session, principal, code, body)
    result = service.view(profile, versions)
    await commit(session)
    return result


@router.post("/risk-profiles/{code}/retire", response_model=schemas.RiskProfile)
async def retire(
    code: Code, body: schemas.RiskProfileRetire, session: SessionDep, principal: RiskStaff
) -> schemas.RiskProfile:
    """Retire a profile from a date: a retirement version, after which it screens nothing."""
    profile, versions = await service.retire(session, principal, code, body)
    result = service.view(profile, versions)
    await commit(session)
    return result


@router.get("/risk-selection-rates", response_model=schemas.SelectionRatesHistory)
async def selection_rates(session: SessionDep, principal: RiskStaff) -> schemas.SelectionRatesHistory:
    """Give the minimum random selection rate of each lane in force now, and every setting made."""
    return await service.selection_rates_history(session, principal)


@router.post(
    "/risk-selection-rates", response_model=schemas.SelectionRates, status_code=status.HTTP_201_CREATED
)
async def set_selection_rates(
    body: schemas.SelectionRatesSet, session: SessionDep, principal: RiskStaff
) -> schemas.SelectionRates:
    """Set the minimum random selection rates from a date (administrators)."""
    result = await service.set_selection_rates(session, principal, body)
    await commit(session)
    return result
