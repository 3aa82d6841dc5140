"""/alarms: monitoring alarms over HTTP, and their live stream. Thin: each translates and commits once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from tamga.auth.deps import CurrentPrincipal, oauth2_scheme
from tamga.auth.service import principal_from_token
from tamga.kit.db import Database, commit
from tamga.kit.errors import TamgaError, Unauthorized
from tamga.kit.http import SessionDep, SettingsDep
from tamga.kit.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from tamga.monitoring import schemas, service
from tamga.monitoring.domain import Severity
from tamga.transit.policy import can_see

router = APIRouter(tags=["monitoring"])
KEEP_ALIVE_S: Final = 15.0
EVENT_STREAM: Final = "text/event-stream"


class NotAcceptable(TamgaError):
    status = 406
    title = "Not acceptable"
    type_slug = "not-acceptable"


def get_hub(request: Request) -> service.AlarmHub:
    hub: service.AlarmHub = request.app.state.alarm_hub
    return hub


HubDep = Annotated[service.AlarmHub, Depends(get_hub)]
AlarmId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]


@router.get("/alarms", response_model=Page[schemas.Alarm])
async def list_alarms(
    session: SessionDep,
    principal: CurrentPrincipal,
    status_: Annotated[schemas.AlarmStatus | None, Query(alias="status")] = None,
    movement_id: Annotated[int | None, Query(ge=1, le=schemas.MAX_ID)] = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[schemas.Alarm]:
    """List the alarms of the movements the caller may see."""
    rows = await service.list_alarms(
        session,
        principal,
        status=status_.value if status_ else None,
        movement_id=movement_id,
        severity=severity.value if severity else None,
        after=decode_cursor(cursor),
        limit=limit,
    )
    items = [service.alarm_view(a) for a in rows]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None)


@router.get(
    "/alarms/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {EVENT_STREAM: {}}, "description": "server-sent alarm changes"},
        406: {"description": "the client did not ask for text/event-stream"},
    },
)
async def stream_alarms(
    request: Request, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2_scheme)], hub: HubDep
) -> StreamingResponse:
    """Stream the alarm changes the caller may see, as server-sent events.

    Each change is `event: alarm` with the data `{"action", "alarm"}`; a keep-alive comment comes every
    15 s. The client must accept
    `text/event-stream` (as EventSource does); anything else is 406, so a plain GET never hangs."""
    if EVENT_STREAM not in request.headers.get("accept", ""):
        raise NotAcceptable(f"this resource is a stream: send Accept: {EVENT_STREAM}")
    # The caller is resolved in a session of its own, closed before streaming: a request session would
    # stay open (on SQLite, a write lock) for as long as the stream lasts.
    if not token:
        raise Unauthorized("a bearer token (JWT or API key) is required")
    db: Database = request.app.state.db
    async with db.session() as session:
        principal = await principal_from_token(session, settings, token)
    if principal is None:
        raise Unauthorized("the token is invalid, expired or revoked")

    async def events() -> AsyncIterator[str]:
        async with hub.subscribe() as queue:
            yield ": connected\n\n"
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), KEEP_ALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if not can_see(principal, change.scope):
                    continue
                data = json.dumps({"action": change.action, "alarm": change.alarm.model_dump(mode="json")})
                yield f"event: alarm\nid: {change.alarm.id}\ndata: {data}\n\n"

    return StreamingResponse(
        events(),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/alarms/{alarm_id}", response_model=schemas.Alarm)
async def get_alarm(alarm_id: AlarmId, session: SessionDep, principal: CurrentPrincipal) -> schemas.Alarm:
    """Give an alarm with its evidence."""
    alarm, _ = await service.get_visible(session, principal, alarm_id)
    return service.alarm_view(alarm)


@router.post("/alarms/{alarm_id}/acknowledge", response_model=schemas.Alarm)
async def acknowledge(
    alarm_id: AlarmId, session: SessionDep, principal: CurrentPrincipal, hub: HubDep
) -> schemas.Alarm:
    """Acknowledge an open alarm."""
    change = await service.acknowledge(session, principal, alarm_id)
    await commit(session)
    hub.publish([change])
    return change.alarm


@router.post("/alarms/{alarm_id}/resolve", response_model=schemas.Alarm)
async def resolve(
    alarm_id: AlarmId,
    body: schemas.AlarmResolve,
    session: SessionDep,
    principal: CurrentPrincipal,
    hub: HubDep,
) -> schemas.Alarm:
    """Resolve an open or acknowledged alarm with the officer's comment."""
    change = await service.resolve(session, principal, alarm_id, body)
    await commit(session)
    hub.publish([change])
    return change.alarm


MovementRef = Annotated[str, Path(min_length=1, max_length=20, description="MRN or id")]


@router.get("/movements/{ref}/monitoring", response_model=schemas.MonitoringSettings)
async def get_monitoring_settings(
    ref: MovementRef, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> schemas.MonitoringSettings:
    """Give how a movement is monitored: its goods category, corridor width and thresholds."""
    return await service.monitoring_settings(
        session, principal, ref, default_width_m=settings.monitoring_corridor_width_m
    )


@router.put("/movements/{ref}/monitoring", response_model=schemas.MonitoringSettings)
async def set_monitoring_settings(
    ref: MovementRef,
    body: schemas.MonitoringSettingsUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> schemas.MonitoringSettings:
    """Set a movement's goods category, corridor width and threshold overrides (monitoring operators)."""
    view = await service.set_monitoring_settings(
        session, principal, ref, body, default_width_m=settings.monitoring_corridor_width_m
    )
    await commit(session)
    return view
