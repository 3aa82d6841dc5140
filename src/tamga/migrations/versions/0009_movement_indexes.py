"""movement indexes: drop the two that others already cover

`ix_movements_status` is the leading column of `ix_movements_status_time_limit`, and
`ix_movements_holder_id` the leading column of the unique (holder_id, lrn): every query they served is
served as well by the wider index. A movement's row is written three times on its way to release, and
its status changes each time (no HOT update), so each index less is a write less per step.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("movements") as batch:
        batch.drop_index("ix_movements_status")
        batch.drop_index("ix_movements_holder_id")


def downgrade() -> None:
    with op.batch_alter_table("movements") as batch:
        batch.create_index("ix_movements_holder_id", ["holder_id"], unique=False)
        batch.create_index("ix_movements_status", ["status"], unique=False)
