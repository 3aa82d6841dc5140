"""The `tamga tax` commands."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="Taxation of mutual trade: Annex 18 import applications, the exchange between tax authorities, 0% claims, the tax gap.",
    no_args_is_help=True,
)
console = Console()


@app.command("send")
def send() -> None:
    """Send the outbox to the peer authority's node once; exit 1 if a register was not acknowledged."""
    from tamga.config import get_settings
    from tamga.kit.db import Database
    from tamga.kit.errors import TamgaError
    from tamga.taxation.exchange import SendReport, send_pending

    async def run() -> SendReport:
        settings = get_settings()
        db = Database(settings.database_url)
        try:
            return await send_pending(db, settings)
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except TamgaError as exc:
        console.print(f"[red]refused:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
    console.print(
        f"registers acknowledged: {report.registers_sent}, messages: {report.messages_acknowledged}"
    )
    for failure in report.failures:
        console.print(f"[yellow]not delivered[/yellow] {failure}")
    if report.failures:
        raise typer.Exit(1)


@app.command("deadlines")
def deadlines(
    today: Annotated[str | None, typer.Option(help="the day to apply (YYYY-MM-DD); default: today")] = None,
) -> None:
    """Warn exporters at days 150 and 170 of the 180-day window and lapse claims from day 181."""
    from tamga.config import get_settings
    from tamga.kit.db import Database, commit
    from tamga.taxation.schemas import DeadlineResult
    from tamga.taxation.service import apply_deadlines

    day = date.fromisoformat(today) if today else None

    async def run() -> DeadlineResult:
        db = Database(get_settings().database_url)
        try:
            async with db.session() as session:
                result = await apply_deadlines(session, day)
                await commit(session)
                return result
        finally:
            await db.dispose()

    result = asyncio.run(run())
    console.print(
        f"warned at 150 days: {len(result.warned_150)}, at 170 days: {len(result.warned_170)}, "
        f"lapsed to the standard rate: {len(result.lapsed)}"
    )
    for number in result.lapsed:
        console.print(f"lapsed {number}")


@app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Argument(help="where to write the node's private key (PEM, mode 600)")],
) -> None:
    """Make this node's Ed25519 key pair; print the public key to give the peer node."""
    from tamga.taxation.signing import generate_private_key_pem, public_key_pem

    if out.exists():
        console.print(f"[red]refused:[/red] {out} exists")
        raise typer.Exit(2)
    pem = generate_private_key_pem()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch(mode=0o600)
    out.write_bytes(pem)
    print(public_key_pem(pem), end="")
