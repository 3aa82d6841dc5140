"""/guarantees and /movements: the transit procedure over HTTP. Thin: each translates and commits once."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import Response

from tamga.auth.deps import CurrentPrincipal, require_roles
from tamga.auth.domain import Principal, Role
from tamga.kit.db import commit
from tamga.kit.http import SessionDep, SettingsDep, model_response
from tamga.kit.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from tamga.models import Movement
from tamga.transit import repository, schemas, service
from tamga.transit.document import render_transit_document
from tamga.transit.domain import Status
from tamga.transit.printing import document_data

router = APIRouter(tags=["transit"])
OfficerDep = Annotated[Principal, Depends(require_roles(Role.CUSTOMS_OFFICER))]
Ref = Annotated[str, "MRN or movement id"]


@router.post("/guarantees", response_model=schemas.Guarantee, status_code=status.HTTP_201_CREATED)
async def register_guarantee(
    body: schemas.GuaranteeCreate, session: SessionDep, officer: OfficerDep
) -> schemas.Guarantee:
    """Register a transit guarantee for a holder (the office of guarantee)."""
    g = await service.register_guarantee(session, officer, body)
    await commit(session)
    return service.guarantee_view(g)


@router.get("/guarantees/{grn}", response_model=schemas.Guarantee)
async def get_guarantee(grn: str, session: SessionDep, principal: CurrentPrincipal) -> schemas.Guarantee:
    """Give a guarantee with its balance."""
    return service.guarantee_view(await service.get_guarantee(session, principal, grn))


@router.post("/movements", response_model=schemas.Movement, status_code=status.HTTP_201_CREATED)
async def lodge(
    body: schemas.TransitDeclarationCreate, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Lodge a transit declaration; every field at fault is named in one refusal."""
    return await _respond(session, await service.lodge(session, principal, body), status.HTTP_201_CREATED)


@router.get("/movements", response_model=Page[schemas.MovementSummary])
async def list_movements(
    session: SessionDep,
    principal: CurrentPrincipal,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[schemas.MovementSummary]:
    """List the movements the caller may see."""
    rows = await repository.list_movements(
        session,
        principal,
        status=status_.value if status_ else None,
        after=decode_cursor(cursor),
        limit=limit,
    )
    items = [
        schemas.MovementSummary(
            id=m.id,
            lrn=m.lrn,
            mrn=m.mrn,
            status=Status(m.status),
            holder_id=m.holder_id,
            departure_office=m.departure_office,
            destination_office=m.destination_office,
            time_limit=m.time_limit,
            lodged_at=m.lodged_at,
        )
        for m in rows
    ]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None)


@router.get("/movements/{ref}", response_model=schemas.Movement)
async def get_movement(ref: Ref, session: SessionDep, principal: CurrentPrincipal) -> schemas.Movement:
    """Give a movement with its items and timeline."""
    movement, _ = await service.get_visible(session, principal, ref, full=True)
    return service.view(movement, full=True)


@router.get(
    "/movements/{ref}/document",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the transit accompanying document"}},
)
async def get_document(ref: Ref, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Give the transit accompanying document as a PDF (once the movement has its MRN)."""
    movement, _ = await service.get_visible(session, principal, ref, full=True)
    data = await document_data(session, movement)
    # The connection goes back before the rendering (on SQLite it is the only one), and the rendering
    # (about a second of CPU for 1,999 items) runs off the event loop, which goes on serving meanwhile.
    await session.close()
    pdf = await asyncio.to_thread(render_transit_document, data)
    filename = f"TAD-{movement.mrn}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )


async def _respond(
    session: SessionDep, movement: Movement, status_code: int = status.HTTP_200_OK
) -> Response:
    result = service.view(movement, full=False)
    await commit(session)
    return model_response(result, status_code)


@router.post("/movements/{ref}/accept", response_model=schemas.Movement)
async def accept(ref: Ref, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Accept a lodged declaration: it gets its registration number and MRN."""
    return await _respond(session, await service.accept(session, principal, ref))


@router.post("/movements/{ref}/reject", response_model=schemas.Movement)
async def reject(
    ref: Ref, body: schemas.Rejection, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Reject a lodged declaration, with reasons."""
    return await _respond(session, await service.reject(session, principal, ref, body))


@router.post("/movements/{ref}/invalidate", response_model=schemas.Movement)
async def invalidate(
    ref: Ref, body: schemas.Note, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Invalidate a declaration before release."""
    return await _respond(session, await service.invalidate(session, principal, ref, body))


@router.post("/movements/{ref}/release", response_model=schemas.Movement)
async def release(
    ref: Ref, body: schemas.Release, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> Response:
    """Release for transit: guarantee reserved, seals armed, time limit set."""
    return await _respond(session, await service.release(session, principal, settings, ref, body))


@router.post("/movements/{ref}/crossings", response_model=schemas.Movement)
async def notify_crossing(
    ref: Ref, body: schemas.Crossing, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Notify that the movement crossed at a border office."""
    return await _respond(session, await service.notify_crossing(session, principal, ref, body))


@router.post("/movements/{ref}/incidents", response_model=schemas.Movement)
async def record_incident(
    ref: Ref, body: schemas.Incident, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Record an incident en route."""
    return await _respond(session, await service.record_incident(session, principal, ref, body))


@router.post("/movements/{ref}/arrival", response_model=schemas.Movement)
async def arrive(ref: Ref, body: schemas.Note, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Record arrival at the office of destination."""
    return await _respond(session, await service.arrive(session, principal, ref, body))


@router.post("/movements/{ref}/unloading-remarks", response_model=schemas.Movement)
async def record_unloading(
    ref: Ref, body: schemas.UnloadingRemarks, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Record unloading remarks, with or without discrepancies."""
    return await _respond(session, await service.record_unloading(session, principal, ref, body))


@router.post("/movements/{ref}/discharge", response_model=schemas.Movement)
async def discharge(
    ref: Ref, body: schemas.Discharge, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Discharge the procedure and release the guarantee."""
    return await _respond(session, await service.discharge(session, principal, ref, body))


@router.post("/movements/{ref}/enquiry", response_model=schemas.Movement)
async def open_enquiry(
    ref: Ref, body: schemas.Note, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Open a non-arrival enquiry after the time limit."""
    return await _respond(session, await service.open_enquiry(session, principal, ref, body))


@router.post("/movements/{ref}/recovery", response_model=schemas.Movement)
async def recover(ref: Ref, body: schemas.Note, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Recover the duties and taxes at stake from the guarantee."""
    return await _respond(session, await service.recover(session, principal, ref, body))
