"""The `tamga rates` commands."""

from __future__ import annotations

import asyncio
import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Exchange rates of the Bank of Russia and the National Bank of Belarus: importers, storage by date, conversion.",
    no_args_is_help=True,
)
console = Console()
CLI_ACTOR = "cli:tamga-rates"


class AuthorityOption(StrEnum):
    cbr = "cbr"
    nbrb = "nbrb"


def _refused(exc: Exception) -> typer.Exit:
    from tamga.kit.errors import TamgaError

    assert isinstance(exc, TamgaError)
    console.print(f"[red]refused:[/red] {exc.detail}")
    for error in exc.errors:
        console.print(f"  {error.field}: {error.reason}")
    return typer.Exit(2)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    authority: Annotated[
        AuthorityOption | None, typer.Option(case_sensitive=False, help="default: detected from the file")
    ] = None,
    replace: Annotated[bool, typer.Option(help="overwrite stored values that differ (audited)")] = False,
) -> None:
    """Import a bank's daily document (CBR XML_daily or NBRB exrates JSON)."""
    from tamga.config import get_settings
    from tamga.kit.db import Database, commit
    from tamga.kit.errors import TamgaError
    from tamga.rates.service import ImportSummary, import_document

    data = file.read_bytes()

    async def run() -> ImportSummary:
        db = Database(get_settings().database_url)
        try:
            async with db.session() as session:
                summary = await import_document(
                    session,
                    data,
                    actor=CLI_ACTOR,
                    authority=authority.value if authority else None,
                    replace=replace,
                    source=f"file {file.name}",
                )
                await commit(session)
                return summary
        finally:
            await db.dispose()

    try:
        s = asyncio.run(run())
    except TamgaError as exc:
        raise _refused(exc) from exc
    replaced = f", replaced {', '.join(s.replaced)}" if s.replaced else ""
    console.print(
        f"[green]{s.authority} {s.day.isoformat()}[/green]: {s.currencies} rates, "
        f"{s.added} added, {s.unchanged} unchanged{replaced}"
    )


@app.command("show")
def show(
    authority: Annotated[AuthorityOption, typer.Option(case_sensitive=False)],
    date: Annotated[str, typer.Option(help="YYYY-MM-DD; default: today (UTC)")] = "",
) -> None:
    """Show every rate of an authority in force on a day."""
    from tamga.config import get_settings
    from tamga.kit.db import Database
    from tamga.kit.errors import TamgaError
    from tamga.rates.domain import RateTable
    from tamga.rates.service import day_table

    try:
        day = dt.date.fromisoformat(date) if date else dt.datetime.now(dt.UTC).date()
    except ValueError as exc:
        console.print(f"[red]refused:[/red] --date {date!r} is not YYYY-MM-DD")
        raise typer.Exit(2) from exc

    async def run() -> RateTable:
        db = Database(get_settings().database_url)
        try:
            async with db.session() as session:
                return await day_table(
                    session, authority="CBR" if authority is AuthorityOption.cbr else "NBRB", day=day
                )
        finally:
            await db.dispose()

    try:
        table = asyncio.run(run())
    except TamgaError as exc:
        raise _refused(exc) from exc
    if not table.rates:
        console.print(f"no {table.authority} rates in force on {day.isoformat()}")
        raise typer.Exit(1)
    out = Table(
        "currency",
        "nominal",
        f"rate ({table.base})",
        "per unit",
        "dated",
        "illustrative",
        title=f"{table.authority} rates in force on {day.isoformat()}",
    )
    for code in sorted(table.rates):
        r = table.rates[code]
        out.add_row(
            code,
            str(r.nominal),
            str(r.rate),
            str(r.per_unit),
            r.date.isoformat(),
            "yes" if r.illustrative else "",
        )
    console.print(out)


@app.command("load-samples")
def load_samples_command() -> None:
    """Import the bundled sample documents of both banks (idempotent)."""
    from tamga.config import get_settings
    from tamga.kit.db import Database, commit
    from tamga.rates.service import load_samples

    async def run() -> int:
        db = Database(get_settings().database_url)
        try:
            async with db.session() as session:
                added = await load_samples(session)
                await commit(session)
                return added
        finally:
            await db.dispose()

    console.print(f"[green]{asyncio.run(run())} sample rates added[/green]")
