"""INSERT ... ON CONFLICT for both dialects (PostgreSQL and SQLite share the syntax)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table: Any) -> Any:
    """Give the dialect's INSERT construct (it has on_conflict_do_update / _do_nothing)."""
    name = session.get_bind().dialect.name
    return postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)
