"""/telemetry: devices, and systems relaying them, report fixes over HTTP. Thin: translate, commit once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from tamga.auth.deps import CurrentPrincipal
from tamga.ingest import schemas, service
from tamga.ingest.bus import FixPublisher
from tamga.kit.clock import utcnow
from tamga.kit.db import commit
from tamga.kit.http import SessionDep

router = APIRouter(tags=["telemetry"])


def get_bus(request: Request) -> FixPublisher:
    bus: FixPublisher = request.app.state.bus
    return bus


BusDep = Annotated[FixPublisher, Depends(get_bus)]


@router.post("/telemetry", response_model=schemas.TelemetryAccepted)
async def report_fixes(
    body: schemas.TelemetryBatch, session: SessionDep, principal: CurrentPrincipal, bus: BusDep
) -> schemas.TelemetryAccepted:
    """Store a batch of fixes (schema `TelemetryFixIn`), all or none; a resent fix is not stored twice.

    A device key reports for its own seal only; an administrator's (system) key for any registered seal.
    """
    reports = await service.reports_for_principal(session, principal, body.fixes)
    outcome = await service.store_reports(session, reports, utcnow())
    await commit(session)
    bus.publish(outcome.stored)
    return schemas.TelemetryAccepted(
        received=len(body.fixes), stored=len(outcome.stored), duplicates=outcome.duplicates
    )
