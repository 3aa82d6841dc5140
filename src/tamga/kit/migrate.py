"""Running Alembic migrations from code (the CLI and the tests use this)."""

from __future__ import annotations

import asyncio
from importlib.resources import files

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    """Give an Alembic config for the packaged migrations and a database URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("tamga") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision` (the newest by default)."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """Run `upgrade` from async code (Alembic's env runs its own event loop, so in a thread)."""
    await asyncio.to_thread(upgrade, database_url, revision)
