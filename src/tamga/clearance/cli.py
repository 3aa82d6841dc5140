"""The `tamga clearance` commands: the officer queue, a declaration, accounts, seen from the console."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.auth import repository as auth_repository
from tamga.auth import service as auth_service
from tamga.auth.domain import Principal, Role
from tamga.clearance import repository, schemas, service
from tamga.clearance.domain import OPEN
from tamga.config import get_settings
from tamga.kit.db import Database, commit
from tamga.kit.errors import NotFound, TamgaError
from tamga.models.clearance import GoodsDeclaration

app = typer.Typer(
    help="Customs clearance: goods declarations, the tariff engine, risk management and release.",
    no_args_is_help=True,
)
console = Console()
T = TypeVar("T")
# The console runs with the database's own authority, as an administrator would.
CONSOLE = Principal(subject="cli:clearance", name="console", role=Role.ADMINISTRATOR)


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(get_settings().database_url)
        try:
            async with db.session() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except TamgaError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc


@app.command("queue")
def queue_command(
    office: Annotated[str | None, typer.Option(help="customs office code; default: every office")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """List the declarations waiting for an officer, first come first."""

    async def work(session: AsyncSession) -> list[schemas.DeclarationSummary]:
        rows = await repository.queue(
            session, office=office, statuses={s.value for s in OPEN}, after=None, limit=limit
        )
        return [service.summary(d) for d in rows]

    rows = _run(work)
    table = Table("ref", "office", "status", "lane", "profiles", "payable", "taken by", "held")
    for d in rows:
        table.add_row(
            d.ref,
            d.office_code,
            d.status.value,
            d.lane.value,
            ", ".join(d.hits) or "-",
            f"{d.total_payable} {d.currency}",
            d.assigned_to or "-",
            "yes" if d.hold_reason else "",
        )
    console.print(table)
    console.print(f"{len(rows)} waiting")


@app.command("show")
def show(ref: Annotated[str, typer.Argument(help="id or registration number")]) -> None:
    """Show a declaration: items, customs value, charges, lane and why, history."""

    async def work(session: AsyncSession) -> schemas.Declaration:
        return service.view(await service.get_visible(session, CONSOLE, ref, full=True), full=True)

    d = _run(work)
    console.print(
        f"[bold]{d.registration_number}[/bold]  {d.direction.value}  {d.status.value}  lane {d.lane.value}"
        + ("  post-clearance audit" if d.post_clearance_audit else "")
    )
    console.print(
        f"declarant {d.declarant_id}{' (AEO)' if d.declarant_aeo else ''} at office {d.office_code}"
    )
    if d.transit_mrn:
        console.print(f"after transit {d.transit_mrn}")
    for a in d.adjustments:
        sign = "-" if a.deducted else "+"
        console.print(
            f"  {sign} {a.kind.value}: {a.amount} {a.currency} = {a.national} {d.currency} (by {a.basis.value})"
        )
    items = Table("#", "code", "origin", "customs value", "duty", "excise", "VAT")
    for i in d.items or []:
        items.add_row(
            str(i.number), i.hs_code, i.origin, str(i.customs_value), str(i.duty), str(i.excise), str(i.vat)
        )
    console.print(items)
    console.print(
        f"customs value {d.customs_value}  duty {d.duty}  excise {d.excise}  VAT {d.vat}  fee {d.fee}  "
        f"[bold]total {d.total_payable} {d.currency}[/bold]"
    )
    for hit in d.risk.hits:
        console.print(
            f"  profile {hit.profile_code} v{hit.profile_version} -> {hit.lane.value}: {hit.reason}"
        )
    if d.risk.random_selected:
        console.print(f"  random selection -> {d.risk.random_lane}")
    for h in d.history:
        console.print(
            f"  {h.at:%Y-%m-%d %H:%M:%S} {h.action} by {h.actor} -> {h.status.value}"
            + (f": {h.note}" if h.note else "")
        )
    if d.hold_reason:
        console.print(f"[yellow]{d.hold_reason}[/yellow]")
    if d.refusal_reason:
        console.print(f"[red]refused: {d.refusal_reason}[/red]")


@app.command("accounts")
def accounts(limit: Annotated[int, typer.Option(min=1, max=1000)] = 100) -> None:
    """List the declarants' prepaid accounts and their balances."""

    async def work(session: AsyncSession) -> list[schemas.Account]:
        return [
            service.account_view(a)
            for a in await service.list_accounts(session, CONSOLE, after=None, limit=limit)
        ]

    table = Table("id", "operator", "state", "balance")
    for a in _run(work):
        table.add_row(str(a.id), str(a.operator_id), a.country, f"{a.balance} {a.currency}")
    console.print(table)


@app.command("statement")
def statement(account_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Show an account's entries with the running balance."""

    async def work(session: AsyncSession) -> tuple[schemas.Account, list[schemas.Entry]]:
        account, entries = await service.statement(session, CONSOLE, account_id, after=None, limit=1000)
        return service.account_view(account), entries

    account, entries = _run(work)
    console.print(f"account {account.id} of operator {account.operator_id} at {account.country} customs")
    table = Table("at", "kind", "amount", "balance", "declaration / reference")
    for e in entries:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.kind,
            str(e.amount),
            str(e.balance_after),
            e.declaration_ref or e.reference or "",
        )
    console.print(table)
    console.print(f"balance {account.balance} {account.currency}")


# --- an officer's actions, from the console ---------------------------------------------------------------
# Each acts as a named account (`--as officer.moscow`), with that account's role and office, so the
# service's scope rules and the audit record see the officer, not the console.

AsUser = Annotated[str, typer.Option("--as", help="the account to act as (a customs officer of the office)")]


def _act(username: str, action: Callable[[AsyncSession, Principal], Awaitable[GoodsDeclaration]]) -> None:
    async def work(session: AsyncSession) -> schemas.DeclarationSummary:
        user = await auth_repository.user_by_username(session, username)
        if user is None or not user.active:
            raise NotFound(f"no active account {username!r}")
        decl = await action(session, auth_service.principal_of_user(user))
        summary = service.summary(decl)
        await commit(session)
        return summary

    d = _run(work)
    console.print(f"{d.ref}: {d.status.value} (lane {d.lane.value}), payable {d.total_payable} {d.currency}")


@app.command("take")
def take(ref: Annotated[str, typer.Argument()], as_user: AsUser) -> None:
    """Take a declaration from the office's queue."""
    _act(as_user, lambda s, p: service.take(s, p, ref))


@app.command("results")
def results(
    ref: Annotated[str, typer.Argument()],
    as_user: AsUser,
    kind: Annotated[schemas.ResultKind, typer.Option(case_sensitive=False)],
    outcome: Annotated[schemas.Outcome, typer.Option(case_sensitive=False)],
    note: Annotated[str, typer.Option()] = "",
) -> None:
    """Record the results of a documentary check or a physical inspection."""
    data = schemas.Results(kind=kind, outcome=outcome, note=note)
    _act(as_user, lambda s, p: service.record_results(s, p, ref, data))


@app.command("release")
def release(ref: Annotated[str, typer.Argument()], as_user: AsUser) -> None:
    """Release the goods, debiting the declarant's prepaid account."""
    _act(as_user, lambda s, p: service.release(s, p, ref))


@app.command("refuse")
def refuse(
    ref: Annotated[str, typer.Argument()], as_user: AsUser, reason: Annotated[str, typer.Option()]
) -> None:
    """Refuse the release, with the reason."""
    data = schemas.Refusal(reason=reason)
    _act(as_user, lambda s, p: service.refuse(s, p, ref, data))
