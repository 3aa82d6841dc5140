"""The `tamga rates` commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Exchange rates of the Bank of Russia and the National Bank of Belarus: importers, storage by date, conversion.",
    no_args_is_help=True,
)
