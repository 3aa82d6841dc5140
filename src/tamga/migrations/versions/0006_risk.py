"""risk: risk profiles, random selection rates and valuation observations

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tamga.kit.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "risk_profiles",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("created_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_profiles")),
        sa.UniqueConstraint("code", name=op.f("uq_risk_profiles_code")),
    )
    op.create_table(
        "risk_profile_versions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("profile_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("lane", sa.String(length=10), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("random_rate", sa.Numeric(precision=7, scale=6), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["risk_profiles.id"],
            name=op.f("fk_risk_profile_versions_profile_id_risk_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_profile_versions")),
        sa.UniqueConstraint(
            "profile_id", "version", name=op.f("uq_risk_profile_versions_profile_id_version")
        ),
    )
    op.create_index(
        "ix_risk_profile_versions_effective_from", "risk_profile_versions", ["effective_from"], unique=False
    )
    op.create_table(
        "risk_valuation_observations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("declaration_ref", sa.String(length=100), nullable=False),
        sa.Column("item_number", sa.Integer(), nullable=False),
        sa.Column("hs6", sa.String(length=6), nullable=False),
        sa.Column("origin", sa.String(length=2), nullable=False),
        sa.Column("value_per_kg_usd", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("observed_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_valuation_observations")),
        sa.UniqueConstraint(
            "declaration_ref",
            "item_number",
            name=op.f("uq_risk_valuation_observations_declaration_ref_item_number"),
        ),
    )
    op.create_index(
        "ix_risk_valuation_observations_hs6_origin",
        "risk_valuation_observations",
        ["hs6", "origin", "observed_at"],
        unique=False,
    )
    op.create_table(
        "risk_selection_rates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("effective_from", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("rates", sa.JSON(), nullable=False),
        sa.Column("aeo_rates", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_selection_rates")),
    )
    op.create_index(
        op.f("ix_risk_selection_rates_effective_from"),
        "risk_selection_rates",
        ["effective_from"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_selection_rates_effective_from"), table_name="risk_selection_rates")
    op.drop_table("risk_selection_rates")
    op.drop_index("ix_risk_valuation_observations_hs6_origin", table_name="risk_valuation_observations")
    op.drop_table("risk_valuation_observations")
    op.drop_index("ix_risk_profile_versions_effective_from", table_name="risk_profile_versions")
    op.drop_table("risk_profile_versions")
    op.drop_table("risk_profiles")
