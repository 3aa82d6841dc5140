"""taxation: mutual trade: applications, registers, claims

Import applications (EAEU Treaty Annex 18) with their versions and payments, exporters' 0 % claims, the
confirmations received from the other state's authority, and the signed exchange (outbox, registers,
inbox).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tamga.kit.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tax_confirmations",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("sender", sa.String(length=2), nullable=False),
        sa.Column("application_number", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("importer_country", sa.String(length=2), nullable=False),
        sa.Column("importer_tax_id", sa.String(length=12), nullable=False),
        sa.Column("seller_country", sa.String(length=2), nullable=False),
        sa.Column("seller_tax_id", sa.String(length=12), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_confirmations")),
        sa.UniqueConstraint(
            "sender", "application_number", name=op.f("uq_tax_confirmations_sender_application_number")
        ),
    )
    op.create_index(
        "ix_tax_confirmations_parties",
        "tax_confirmations",
        ["seller_tax_id", "importer_tax_id"],
        unique=False,
    )
    op.create_table(
        "tax_inbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("sender", sa.String(length=2), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("register_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("application_number", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("received_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_inbox")),
        sa.UniqueConstraint("sender", "message_id", name=op.f("uq_tax_inbox_sender_message_id")),
    )
    op.create_table(
        "tax_outbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("application_number", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("register_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_tax_outbox_message_id")),
    )
    op.create_index(op.f("ix_tax_outbox_acknowledged_at"), "tax_outbox", ["acknowledged_at"], unique=False)
    op.create_index(op.f("ix_tax_outbox_register_id"), "tax_outbox", ["register_id"], unique=False)
    op.create_table(
        "tax_registers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("register_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("peer", sa.String(length=2), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("created_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_registers")),
        sa.UniqueConstraint("direction", "register_id", name=op.f("uq_tax_registers_direction_register_id")),
    )
    op.create_table(
        "tax_applications",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column(
            "importer_operator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("importer_tax_id", sa.String(length=12), nullable=False),
        sa.Column("importer_name", sa.String(length=300), nullable=False),
        sa.Column("importer_region", sa.String(length=6), nullable=True),
        sa.Column("seller_country", sa.String(length=2), nullable=False),
        sa.Column("seller_tax_id", sa.String(length=12), nullable=False),
        sa.Column("seller_name", sa.String(length=300), nullable=False),
        sa.Column("seller_region", sa.String(length=6), nullable=True),
        sa.Column("contract_number", sa.String(length=60), nullable=False),
        sa.Column("contract_date", sa.Date(), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tax_base", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("vat", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("excise", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("total_due", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("paid", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("filed_by", sa.String(length=200), nullable=False),
        sa.Column("filed_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["importer_operator_id"],
            ["operators.id"],
            name=op.f("fk_tax_applications_importer_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_applications")),
        sa.UniqueConstraint("number", name=op.f("uq_tax_applications_number")),
    )
    op.create_index(
        op.f("ix_tax_applications_importer_operator_id"),
        "tax_applications",
        ["importer_operator_id"],
        unique=False,
    )
    op.create_index("ix_tax_applications_state_id", "tax_applications", ["state", "id"], unique=False)
    op.create_index(
        "uq_tax_applications_live_fingerprint",
        "tax_applications",
        ["fingerprint"],
        unique=True,
        sqlite_where=sa.text("status != 'withdrawn'"),
        postgresql_where=sa.text("status != 'withdrawn'"),
    )
    op.create_table(
        "tax_claims",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column(
            "exporter_operator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("exporter_country", sa.String(length=2), nullable=False),
        sa.Column("exporter_tax_id", sa.String(length=12), nullable=False),
        sa.Column("exporter_region", sa.String(length=6), nullable=True),
        sa.Column("buyer_country", sa.String(length=2), nullable=False),
        sa.Column("buyer_tax_id", sa.String(length=12), nullable=False),
        sa.Column("buyer_name", sa.String(length=300), nullable=False),
        sa.Column("buyer_region", sa.String(length=6), nullable=True),
        sa.Column("shipped_on", sa.Date(), nullable=False),
        sa.Column("invoices", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("base", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("confirmation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("confirmed_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.Column("warned_150_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.Column("warned_170_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.Column("lapsed_at", tamga.kit.db.UTCDateTime(), nullable=True),
        sa.Column("vat_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("vat_due", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["confirmation_id"],
            ["tax_confirmations.id"],
            name=op.f("fk_tax_claims_confirmation_id_tax_confirmations"),
        ),
        sa.ForeignKeyConstraint(
            ["exporter_operator_id"],
            ["operators.id"],
            name=op.f("fk_tax_claims_exporter_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_claims")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_tax_claims_fingerprint")),
        sa.UniqueConstraint("number", name=op.f("uq_tax_claims_number")),
    )
    op.create_index(op.f("ix_tax_claims_confirmation_id"), "tax_claims", ["confirmation_id"], unique=False)
    op.create_index(
        op.f("ix_tax_claims_exporter_operator_id"), "tax_claims", ["exporter_operator_id"], unique=False
    )
    op.create_index("ix_tax_claims_status_shipped_on", "tax_claims", ["status", "shipped_on"], unique=False)
    op.create_table(
        "tax_application_versions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["tax_applications.id"],
            name=op.f("fk_tax_application_versions_application_id_tax_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_application_versions")),
        sa.UniqueConstraint(
            "application_id",
            "version",
            "event",
            name=op.f("uq_tax_application_versions_application_id_version_event"),
        ),
    )
    op.create_table(
        "tax_payments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=60), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", tamga.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["tax_applications.id"],
            name=op.f("fk_tax_payments_application_id_tax_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_payments")),
    )
    op.create_index(op.f("ix_tax_payments_application_id"), "tax_payments", ["application_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tax_payments_application_id"), table_name="tax_payments")
    op.drop_table("tax_payments")
    op.drop_table("tax_application_versions")
    op.drop_index("ix_tax_claims_status_shipped_on", table_name="tax_claims")
    op.drop_index(op.f("ix_tax_claims_exporter_operator_id"), table_name="tax_claims")
    op.drop_index(op.f("ix_tax_claims_confirmation_id"), table_name="tax_claims")
    op.drop_table("tax_claims")
    op.drop_index(
        "uq_tax_applications_live_fingerprint",
        table_name="tax_applications",
        sqlite_where=sa.text("status != 'withdrawn'"),
        postgresql_where=sa.text("status != 'withdrawn'"),
    )
    op.drop_index("ix_tax_applications_state_id", table_name="tax_applications")
    op.drop_index(op.f("ix_tax_applications_importer_operator_id"), table_name="tax_applications")
    op.drop_table("tax_applications")
    op.drop_table("tax_registers")
    op.drop_index(op.f("ix_tax_outbox_register_id"), table_name="tax_outbox")
    op.drop_index(op.f("ix_tax_outbox_acknowledged_at"), table_name="tax_outbox")
    op.drop_table("tax_outbox")
    op.drop_table("tax_inbox")
    op.drop_index("ix_tax_confirmations_parties", table_name="tax_confirmations")
    op.drop_table("tax_confirmations")
