"""The migrations build exactly the schema the models declare, on each database."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from tamga.models import Base


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    # the daily partitions of `fixes` are made at run time on PostgreSQL; alembic's own table is not a model
    return not (
        type_ == "table"
        and name is not None
        and name.startswith(("fixes_p", "fixes_default", "alembic_version"))
    )


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": _include_name}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(backend: Any) -> None:
    async with backend.db.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == [], f"models and migrations differ on {backend.kind}: {differences}"
