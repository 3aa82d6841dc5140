"""The `tamga tax` commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Taxation of mutual trade: Annex 18 import applications, the exchange between tax authorities, 0% claims, the tax gap.",
    no_args_is_help=True,
)
