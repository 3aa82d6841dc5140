"""clearance: goods declarations, their items, and the declarants' prepaid accounts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tamga.kit.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "goods_declarations",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("registration_number", sa.String(length=30), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("lane", sa.String(length=10), nullable=False),
        sa.Column("declarant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("declarant_aeo", sa.Boolean(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("office_code", sa.String(length=10), nullable=False),
        sa.Column("consignor", sa.JSON(), nullable=False),
        sa.Column("consignee", sa.JSON(), nullable=False),
        sa.Column("transport", sa.JSON(), nullable=False),
        sa.Column("dispatch_country", sa.String(length=2), nullable=False),
        sa.Column("destination_country", sa.String(length=2), nullable=False),
        sa.Column("transit_mrn", sa.String(length=18), nullable=True),
        sa.Column("transit_movement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customs_value", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("duty", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("excise", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("vat", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("fee", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("total_payable", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("valuation", sa.JSON(), nullable=False),
        sa.Column("fee_charge", sa.JSON(), nullable=False),
        sa.Column("risk", sa.JSON(), nullable=False),
        sa.Column("post_clearance_audit", sa.Boolean(), nullable=False),
        sa.Column("irregular", sa.Boolean(), nullable=False),
        sa.Column("assigned_to", sa.String(length=200), nullable=True),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("hold_reason", sa.Text(), nullable=True),
        sa.Column("registered_at", tamga.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", tamga.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refused_at", tamga.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["declarant_id"], ["operators.id"], name=op.f("fk_goods_declarations_declarant_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["transit_movement_id"],
            ["movements.id"],
            name=op.f("fk_goods_declarations_transit_movement_id_movements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goods_declarations")),
        sa.UniqueConstraint("registration_number", name=op.f("uq_goods_declarations_registration_number")),
    )
    op.create_index("ix_goods_declarations_country_id", "goods_declarations", ["country", "id"], unique=False)
    op.create_index(
        "ix_goods_declarations_declarant_id_id", "goods_declarations", ["declarant_id", "id"], unique=False
    )
    op.create_index(
        "ix_goods_declarations_queue", "goods_declarations", ["office_code", "status", "id"], unique=False
    )
    op.create_table(
        "goods_declaration_items",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("declaration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("hs_code", sa.String(length=10), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("origin", sa.String(length=2), nullable=False),
        sa.Column("preference", sa.String(length=20), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=16, scale=3), nullable=True),
        sa.Column("supplementary_unit", sa.String(length=10), nullable=True),
        sa.Column("net_mass_kg", sa.Numeric(precision=16, scale=3), nullable=False),
        sa.Column("gross_mass_kg", sa.Numeric(precision=16, scale=3), nullable=False),
        sa.Column("price", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("vat_reduced", sa.Boolean(), nullable=False),
        sa.Column("price_national", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("customs_value", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("duty", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("excise", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("vat", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("valuation", sa.JSON(), nullable=False),
        sa.Column("charges", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["goods_declarations.id"],
            name=op.f("fk_goods_declaration_items_declaration_id_goods_declarations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goods_declaration_items")),
        sa.UniqueConstraint(
            "declaration_id", "number", name=op.f("uq_goods_declaration_items_declaration_id_number")
        ),
    )
    op.create_table(
        "clearance_accounts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("operator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("created_at", tamga.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_clearance_accounts_balance_not_negative")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_clearance_accounts_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearance_accounts")),
        sa.UniqueConstraint("operator_id", "country", name=op.f("uq_clearance_accounts_operator_id_country")),
    )
    op.create_table(
        "clearance_account_entries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", tamga.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("balance_after", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("declaration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["clearance_accounts.id"],
            name=op.f("fk_clearance_account_entries_account_id_clearance_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["goods_declarations.id"],
            name=op.f("fk_clearance_account_entries_declaration_id_goods_declarations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearance_account_entries")),
    )
    op.create_index(
        "ix_clearance_account_entries_account_id_id",
        "clearance_account_entries",
        ["account_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_clearance_account_entries_account_id_id", table_name="clearance_account_entries")
    op.drop_table("clearance_account_entries")
    op.drop_table("clearance_accounts")
    op.drop_table("goods_declaration_items")
    op.drop_index("ix_goods_declarations_queue", table_name="goods_declarations")
    op.drop_index("ix_goods_declarations_declarant_id_id", table_name="goods_declarations")
    op.drop_index("ix_goods_declarations_country_id", table_name="goods_declarations")
    op.drop_table("goods_declarations")
