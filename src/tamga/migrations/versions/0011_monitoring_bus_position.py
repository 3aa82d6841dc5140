"""monitoring bus position: how far the monitoring consumer has taken the NATS JetStream fix bus

With the bus between processes (TAMGA_BUS_URL), a consumer records with each batch's outcome the stream
(its name and creation time) and the sequence of the last message it has taken, so that a batch whose
outcome was committed but not acknowledged to the server is not taken twice after a restart. Empty with
the in-process bus.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("monitoring_progress") as batch:
        batch.add_column(sa.Column("bus_stream", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("bus_sequence", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monitoring_progress") as batch:
        batch.drop_column("bus_sequence")
        batch.drop_column("bus_stream")
