"""The `tamga clearance` commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Customs clearance: goods declarations, the tariff engine, risk management and release.",
    no_args_is_help=True,
)
