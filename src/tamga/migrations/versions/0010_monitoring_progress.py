"""monitoring progress: how far the monitoring consumer has taken the stored fixes

A consumer records, with each batch's outcome, the newest receipt time it has been through; on start it
catches up on what was stored after it (fixes confirmed to their devices but lost with the in-process
bus in a crash). No row: the consumer starts as before, replaying what is stored without persisting.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tamga.kit.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitoring_progress",
        sa.Column("consumer", sa.String(length=40), nullable=False),
        sa.Column("received_through", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_monitoring_progress")),
    )


def downgrade() -> None:
    op.drop_table("monitoring_progress")
