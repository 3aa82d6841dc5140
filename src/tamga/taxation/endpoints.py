"""/tax: import applications, payments and decisions, 0 % claims, and the exchange between authorities.

Thin: each route translates, calls one service function and commits once.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from tamga.auth.deps import CurrentPrincipal, require_roles
from tamga.auth.domain import Principal, Role
from tamga.kit.db import commit
from tamga.kit.errors import Conflict
from tamga.kit.http import SessionDep, SettingsDep
from tamga.kit.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from tamga.models.taxation import TaxApplication
from tamga.taxation import exchange, reconciliation, repository, schemas, service
from tamga.taxation.domain import ApplicationStatus, ClaimStatus

router = APIRouter(prefix="/tax", tags=["taxation"])
AuthorityDep = Annotated[Principal, Depends(require_roles(Role.TAX_OFFICER))]
Number = Annotated[str, "application or claim number"]


async def _respond(session: SessionDep, a: TaxApplication) -> schemas.Application:
    result = service.application_view(a)
    await commit(session)
    return result


@router.post("/applications", response_model=schemas.Application, status_code=status.HTTP_201_CREATED)
async def file_application(
    body: schemas.ApplicationIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> schemas.Application:
    """File an application for the import of goods and payment of indirect taxes (EAEU Treaty Annex 18)."""
    return await _respond(session, await service.file_application(session, principal, settings, body))


@router.get("/applications", response_model=Page[schemas.ApplicationSummary])
async def list_applications(
    session: SessionDep,
    principal: CurrentPrincipal,
    status_: Annotated[ApplicationStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[schemas.ApplicationSummary]:
    """List the applications the caller may see: a business its own, a tax officer its state's."""
    rows = await repository.list_applications(
        session,
        principal,
        status=status_.value if status_ else None,
        after=decode_cursor(cursor),
        limit=limit,
    )
    items = [
        schemas.ApplicationSummary(
            number=a.number,
            status=ApplicationStatus(a.status),
            version=a.version,
            state=a.state,
            importer_tax_id=a.importer_tax_id,
            seller_tax_id=a.seller_tax_id,
            registered_on=a.registered_on,
            due_on=a.due_on,
            total_due=a.total_due,
            paid=a.paid,
            currency=a.currency,
        )
        for a in rows
    ]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None)


@router.get("/applications/{number}", response_model=schemas.Application)
async def get_application(
    number: Number, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Application:
    """Give an application in its current version."""
    return service.application_view(await service.get_application(session, principal, number))


@router.get("/applications/{number}/versions", response_model=list[schemas.ApplicationVersion])
async def application_history(
    number: Number, session: SessionDep, principal: CurrentPrincipal
) -> list[schemas.ApplicationVersion]:
    """Give every version of an application as it stood: filed, corrected, decided, withdrawn."""
    a = await service.get_application(session, principal, number)
    return [
        schemas.ApplicationVersion(
            version=v.version,
            event=v.event,
            reason=v.reason,
            actor=v.actor,
            created_at=v.created_at,
            snapshot=v.snapshot,
        )
        for v in await repository.versions(session, a.id)
    ]


@router.get("/applications/{number}/payments", response_model=list[schemas.Payment])
async def application_payments(
    number: Number, session: SessionDep, principal: CurrentPrincipal
) -> list[schemas.Payment]:
    """Give the payments recorded on an application."""
    a = await service.get_application(session, principal, number)
    return [
        schemas.Payment(
            amount=p.amount,
            currency=p.currency,
            paid_on=p.paid_on,
            reference=p.reference,
            recorded_at=p.recorded_at,
        )
        for p in await repository.payments(session, a.id)
    ]


@router.post("/applications/{number}/payments", response_model=schemas.Application)
async def record_payment(
    number: Number, body: schemas.PaymentIn, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Application:
    """Record a payment of the application's taxes."""
    return await _respond(session, await service.record_payment(session, principal, number, body))


@router.post("/applications/{number}/confirm", response_model=schemas.Application)
async def confirm(
    number: Number, session: SessionDep, settings: SettingsDep, officer: AuthorityDep
) -> schemas.Application:
    """Confirm a paid application (the importing state's tax authority); it goes to the other state."""
    return await _respond(session, await service.confirm(session, officer, settings, number))


@router.post("/applications/{number}/refuse", response_model=schemas.Application)
async def refuse(
    number: Number, body: schemas.Reason, session: SessionDep, officer: AuthorityDep
) -> schemas.Application:
    """Refuse an application, with the reason (the importing state's tax authority)."""
    return await _respond(session, await service.refuse(session, officer, number, body.reason))


@router.post("/applications/{number}/corrections", response_model=schemas.Application)
async def correct(
    number: Number,
    body: schemas.Correction,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> schemas.Application:
    """File a corrected version of an application (the previous versions are kept)."""
    return await _respond(session, await service.correct(session, principal, settings, number, body))


@router.post("/applications/{number}/withdraw", response_model=schemas.Application)
async def withdraw(
    number: Number,
    body: schemas.Reason,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> schemas.Application:
    """Withdraw an application; a confirmation already sent is withdrawn at the other state's node."""
    return await _respond(session, await service.withdraw(session, principal, settings, number, body.reason))


@router.post("/claims", response_model=schemas.Claim, status_code=status.HTTP_201_CREATED)
async def register_claim(
    body: schemas.ClaimIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> schemas.Claim:
    """Register a shipment to the other state and claim the 0 % rate for it."""
    c = await service.register_claim(session, principal, settings, body)
    result = service.claim_view(c, await service.claim_confirmation_number(session, c))
    await commit(session)
    return result


@router.get("/claims", response_model=Page[schemas.Claim])
async def list_claims(
    session: SessionDep,
    principal: CurrentPrincipal,
    status_: Annotated[ClaimStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[schemas.Claim]:
    """List the claims the caller may see: an exporter its own, a tax officer its state's exporters'."""
    rows = await repository.list_claims(
        session,
        principal,
        status=status_.value if status_ else None,
        after=decode_cursor(cursor),
        limit=limit,
    )
    numbers = await repository.confirmation_numbers(
        session, [c.confirmation_id for c in rows if c.confirmation_id is not None]
    )
    items = [
        service.claim_view(c, numbers.get(c.confirmation_id) if c.confirmation_id else None) for c in rows
    ]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None)


@router.get("/claims/{number}", response_model=schemas.Claim)
async def get_claim(number: Number, session: SessionDep, principal: CurrentPrincipal) -> schemas.Claim:
    """Give a claim with its window (day, last day, warnings) and its confirmation."""
    c = await service.get_claim(session, principal, number)
    return service.claim_view(c, await service.claim_confirmation_number(session, c))


StateQuery = Annotated[
    str | None,
    Query(pattern="^(RU|BY)$", description="whose exporters' claims; a tax officer's own by default"),
]


@router.get("/gap", response_model=schemas.TaxGap)
async def tax_gap(
    session: SessionDep,
    principal: CurrentPrincipal,
    by: Annotated[reconciliation.GapBy, Query()] = "region_pair",
    state: StateQuery = None,
    shipped_from: dt.date | None = None,
    shipped_to: dt.date | None = None,
) -> schemas.TaxGap:
    """Reconcile a state's 0 % claims against the confirmations received: the tax gap by region pair
    (ISO 3166-2, seller × buyer), month or HS section, with counts and amounts per category."""
    docs = await reconciliation.documents(
        session, principal, state=state, shipped_from=shipped_from, shipped_to=shipped_to
    )
    rows = [schemas.GapRow(**row) for row in reconciliation.gap_rows(docs, by)]
    return schemas.TaxGap(state=docs.state, by=by, counts=docs.result.counts(), rows=rows)


@router.get("/gap/documents", response_model=list[schemas.GapDocument])
async def tax_gap_documents(
    session: SessionDep,
    principal: CurrentPrincipal,
    key: Annotated[
        str, Query(max_length=40, description="RU-SMO,BY-HM | 2026-01 | XVI (as the gap shows it)")
    ],
    category: Annotated[reconciliation.Category, Query()],
    by: Annotated[reconciliation.GapBy, Query()] = "region_pair",
    state: StateQuery = None,
    shipped_from: dt.date | None = None,
    shipped_to: dt.date | None = None,
) -> list[schemas.GapDocument]:
    """Drill down from one cell of the tax gap to its claims and confirmations."""
    docs = await reconciliation.documents(
        session, principal, state=state, shipped_from=shipped_from, shipped_to=shipped_to
    )
    cell = reconciliation.documents_behind(docs, by, reconciliation.parse_key(by, key), category)
    return [schemas.GapDocument(**row) for row in cell]


@router.post(
    "/exchange/registers",
    response_model=schemas.Acknowledgement,
    responses={401: {"description": "unknown node, stale timestamp or bad signature"}},
)
async def receive_register(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Receive a register of signed messages from the other authority's node; answer a signed acknowledgement.

    Authenticated by the node's signature (headers X-Tamga-Node, X-Tamga-Timestamp, Content-Digest,
    X-Tamga-Signature), not by a bearer token. Applying is idempotent: a message received twice is applied once.
    """
    body = await request.body()
    try:
        receipt = await exchange.receive_register(
            session, settings, request.method, request.url.path, request.headers, body
        )
        await commit(session)
    except IntegrityError as exc:  # the same message applied by a concurrent request: the sender retries
        raise Conflict(
            "a message of this register is being applied by another request; send it again"
        ) from exc
    return Response(receipt.body, media_type="application/json", headers=receipt.headers)


@router.get("/exchange/status", response_model=schemas.ExchangeStatus)
async def exchange_status(
    session: SessionDep, settings: SettingsDep, officer: AuthorityDep
) -> schemas.ExchangeStatus:
    """Give what this node has still to deliver and what it has received."""
    pending, awaiting, received = await repository.exchange_counts(session)
    return schemas.ExchangeStatus(
        node=settings.tax_node,
        peer_url=settings.tax_peer_url,
        pending_messages=pending,
        registers_awaiting_ack=awaiting,
        registers_received=received,
    )


@router.post("/exchange/send", response_model=schemas.SendResult)
async def exchange_send(request: Request, settings: SettingsDep, officer: AuthorityDep) -> schemas.SendResult:
    """Send now what the outbox holds (what the background sender does on its own)."""
    report = await exchange.send_pending(request.app.state.db, settings)
    return schemas.SendResult(
        registers_sent=report.registers_sent,
        messages_acknowledged=report.messages_acknowledged,
        failures=report.failures,
    )


@router.post("/deadlines", response_model=schemas.DeadlineResult)
async def run_deadlines(session: SessionDep, officer: AuthorityDep) -> schemas.DeadlineResult:
    """Apply the 180-day window to pending claims today (what the daily task does)."""
    result = await service.apply_deadlines(session)
    await commit(session)
    return result
