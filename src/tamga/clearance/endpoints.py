"""/declarations and /accounts: goods declarations, the officer queue and prepaid accounts over HTTP.

Thin: each route translates, calls one service function and commits once (mounted under /api/v1).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from tamga.auth.deps import CurrentPrincipal
from tamga.clearance import repository, schemas, service
from tamga.clearance.domain import Status
from tamga.kit.db import commit
from tamga.kit.http import SessionDep
from tamga.kit.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor

router = APIRouter(tags=["clearance"])
Ref = Annotated[str, Path(description="id or registration number (slashes written as dashes)", max_length=40)]
AccountId = Annotated[int, Path(ge=1, le=2**62)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.post("/declarations", response_model=schemas.Declaration, status_code=status.HTTP_201_CREATED)
async def lodge(
    body: schemas.GoodsDeclarationCreate, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Declaration:
    """Lodge a goods declaration: registered, valued, assessed, screened, and released at once when the lane allows."""
    decl = await service.lodge(session, principal, body)
    result = service.view(decl, full=True)
    await commit(session)
    return result


@router.get("/declarations", response_model=Page[schemas.DeclarationSummary])
async def list_declarations(
    session: SessionDep,
    principal: CurrentPrincipal,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Page[schemas.DeclarationSummary]:
    """List the declarations the caller may see (a business its own, an officer those of their state)."""
    rows = await repository.list_declarations(
        session,
        principal,
        status=status_.value if status_ else None,
        after=decode_cursor(cursor),
        limit=limit,
    )
    return Page(
        items=[service.summary(d) for d in rows],
        next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None,
    )


@router.get("/declarations/queue", response_model=Page[schemas.DeclarationSummary])
async def queue(
    session: SessionDep,
    principal: CurrentPrincipal,
    office: Annotated[str | None, Query(pattern=r"^[0-9]{5,8}$")] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Page[schemas.DeclarationSummary]:
    """The officer queue: declarations of the officer's office waiting to be taken, checked, released or refused."""
    rows = await service.queue(session, principal, office=office, after=decode_cursor(cursor), limit=limit)
    return Page(
        items=[service.summary(d) for d in rows],
        next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None,
    )


@router.get("/declarations/{ref}", response_model=schemas.Declaration)
async def get_declaration(ref: Ref, session: SessionDep, principal: CurrentPrincipal) -> schemas.Declaration:
    """Give a declaration with its items, customs value, charges and their traces, lane and history."""
    return service.view(await service.get_visible(session, principal, ref, full=True), full=True)


async def _respond(session: SessionDep, decl_id: int, principal: CurrentPrincipal) -> schemas.Declaration:
    await commit(session)
    return service.view(await service.get_visible(session, principal, str(decl_id), full=True), full=True)


@router.post("/declarations/{ref}/take", response_model=schemas.Declaration)
async def take(ref: Ref, session: SessionDep, principal: CurrentPrincipal) -> schemas.Declaration:
    """Take a declaration from the queue (an officer of its office)."""
    decl = await service.take(session, principal, ref)
    return await _respond(session, decl.id, principal)


@router.post("/declarations/{ref}/results", response_model=schemas.Declaration)
async def record_results(
    ref: Ref, body: schemas.Results, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Declaration:
    """Record the results of a documentary check or a physical inspection."""
    decl = await service.record_results(session, principal, ref, body)
    return await _respond(session, decl.id, principal)


@router.post("/declarations/{ref}/release", response_model=schemas.Declaration)
async def release(ref: Ref, session: SessionDep, principal: CurrentPrincipal) -> schemas.Declaration:
    """Release the goods; what the declaration owes is debited from the prepaid account in the same commit."""
    decl = await service.release(session, principal, ref)
    return await _respond(session, decl.id, principal)


@router.post("/declarations/{ref}/refuse", response_model=schemas.Declaration)
async def refuse(
    ref: Ref, body: schemas.Refusal, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Declaration:
    """Refuse the release, with a reason."""
    decl = await service.refuse(session, principal, ref, body)
    return await _respond(session, decl.id, principal)


@router.post("/accounts", response_model=schemas.Account, status_code=status.HTTP_201_CREATED)
async def open_account(
    body: schemas.AccountCreate, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Account:
    """Open a prepaid account at one state's customs (RUB at RU, BYN at BY)."""
    account = await service.open_account(session, principal, body)
    result = service.account_view(account)
    await commit(session)
    return result


@router.get("/accounts", response_model=Page[schemas.Account])
async def list_accounts(
    session: SessionDep, principal: CurrentPrincipal, limit: Limit = 50, cursor: str | None = None
) -> Page[schemas.Account]:
    """List the prepaid accounts the caller may see."""
    rows = await service.list_accounts(session, principal, after=decode_cursor(cursor), limit=limit)
    return Page(
        items=[service.account_view(a) for a in rows],
        next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None,
    )


@router.get("/accounts/{account_id}", response_model=schemas.Account)
async def get_account(
    account_id: AccountId, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Account:
    """Give a prepaid account with its balance."""
    return service.account_view(await service.get_account(session, principal, account_id))


@router.post(
    "/accounts/{account_id}/deposits", response_model=schemas.Entry, status_code=status.HTTP_201_CREATED
)
async def deposit(
    account_id: AccountId, body: schemas.DepositCreate, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Entry:
    """Record a payment into a prepaid account (a customs officer of its state, or an administrator)."""
    entry = await service.deposit(session, principal, account_id, body)
    result = schemas.Entry(
        id=entry.id,
        at=entry.at,
        kind=entry.kind,
        amount=entry.amount,
        balance_after=entry.balance_after,
        declaration_ref=None,
        reference=entry.reference,
        actor=entry.actor,
    )
    await commit(session)
    return result


@router.get("/accounts/{account_id}/statement", response_model=schemas.Statement)
async def account_statement(
    account_id: AccountId,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: str | None = None,
) -> schemas.Statement:
    """Give the account's entries, oldest first, each with the running balance after it."""
    account, entries = await service.statement(
        session, principal, account_id, after=decode_cursor(cursor), limit=limit
    )
    return schemas.Statement(
        account=service.account_view(account),
        entries=entries,
        next_cursor=encode_cursor(entries[-1].id) if len(entries) == limit else None,
    )
