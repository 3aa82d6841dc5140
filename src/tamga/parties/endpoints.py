"""/operators, /vehicles, /seals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from tamga.auth.deps import CurrentPrincipal, require_roles
from tamga.auth.domain import Principal, Role
from tamga.kit.db import commit
from tamga.kit.http import SessionDep
from tamga.kit.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from tamga.parties import repository, schemas, service

router = APIRouter(tags=["parties"])
RegistrarDep = Annotated[Principal, Depends(require_roles(Role.CUSTOMS_OFFICER))]
CarrierDep = Annotated[Principal, Depends(require_roles(Role.CARRIER))]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.post("/operators", response_model=schemas.Operator, status_code=status.HTTP_201_CREATED)
async def register_operator(
    body: schemas.OperatorCreate, session: SessionDep, actor: RegistrarDep
) -> schemas.Operator:
    """Register an economic operator of Russia (INN, KPP, OGRN) or Belarus (UNP)."""
    row = await service.register_operator(session, actor, body)
    await commit(session)
    return schemas.Operator.model_validate(row)


@router.get("/operators", response_model=Page[schemas.Operator])
async def list_operators(
    session: SessionDep, principal: CurrentPrincipal, limit: Limit = 50, cursor: str | None = None
) -> Page[schemas.Operator]:
    """List operators (a business sees only itself)."""
    is_business = principal.role in (Role.DECLARANT, Role.CARRIER, Role.DEVICE)
    only = principal.operator_id if is_business else None
    if is_business and only is None:
        return Page(items=[])
    rows = await repository.list_operators(session, after=decode_cursor(cursor), limit=limit, only_id=only)
    items = [schemas.Operator.model_validate(r) for r in rows]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None)


@router.get("/operators/{operator_id}", response_model=schemas.Operator)
async def get_operator(
    operator_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep, principal: CurrentPrincipal
) -> schemas.Operator:
    """Give one operator."""
    return schemas.Operator.model_validate(await service.get_operator(session, principal, operator_id))


@router.post("/vehicles", response_model=schemas.Vehicle, status_code=status.HTTP_201_CREATED)
async def register_vehicle(
    body: schemas.VehicleCreate, session: SessionDep, actor: CarrierDep
) -> schemas.Vehicle:
    """Register a vehicle of the calling carrier."""
    row = await service.register_vehicle(session, actor, body)
    await commit(session)
    return schemas.Vehicle.model_validate(row)


@router.get("/vehicles", response_model=Page[schemas.Vehicle])
async def list_vehicles(
    session: SessionDep, principal: CarrierDep, limit: Limit = 50, cursor: str | None = None
) -> Page[schemas.Vehicle]:
    """List the calling carrier's vehicles (all, for administrators)."""
    carrier = None if principal.is_admin else principal.operator_id
    rows = await repository.list_vehicles(
        session, carrier_id=carrier, after=decode_cursor(cursor), limit=limit
    )
    items = [schemas.Vehicle.model_validate(r) for r in rows]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None)


@router.post("/seals", response_model=schemas.Seal, status_code=status.HTTP_201_CREATED)
async def register_seal(body: schemas.SealCreate, session: SessionDep, actor: CarrierDep) -> schemas.Seal:
    """Register an electronic navigation seal of the calling carrier."""
    row = await service.register_seal(session, actor, body)
    await commit(session)
    return schemas.Seal.model_validate(row)


@router.get("/seals", response_model=Page[schemas.Seal])
async def list_seals(
    session: SessionDep, principal: CarrierDep, limit: Limit = 50, cursor: str | None = None
) -> Page[schemas.Seal]:
    """List the calling carrier's seals (all, for administrators)."""
    carrier = None if principal.is_admin else principal.operator_id
    rows = await repository.list_seals(session, carrier_id=carrier, after=decode_cursor(cursor), limit=limit)
    items = [schemas.Seal.model_validate(r) for r in rows]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None)
