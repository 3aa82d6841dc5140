"""alarms: monitoring alarms, at most one not resolved per movement and rule

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tamga.kit.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("movement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule", sa.String(length=30), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("opened_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            ["movements.id"],
            name=op.f("fk_alarms_movement_id_movements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index(op.f("ix_alarms_movement_id"), "alarms", ["movement_id"], unique=False)
    op.create_index("ix_alarms_status_id", "alarms", ["status", "id"], unique=False)
    op.create_index(
        "uq_alarms_open_movement_rule",
        "alarms",
        ["movement_id", "rule"],
        unique=True,
        sqlite_where=sa.text("status != 'resolved'"),
        postgresql_where=sa.text("status != 'resolved'"),
    )


def downgrade() -> None:
    op.drop_index("uq_alarms_open_movement_rule", table_name="alarms")
    op.drop_index("ix_alarms_status_id", table_name="alarms")
    op.drop_index(op.f("ix_alarms_movement_id"), table_name="alarms")
    op.drop_table("alarms")
