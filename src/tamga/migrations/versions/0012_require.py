"""tamga_require: a check that fails the statement it is in (PostgreSQL)

A use case whose write is one statement of data-modifying WITHs (a release: the movement, its seals, its
event, its audit record and the reserve on its guarantee) checks at the end that each part found its
rows as it expected (`tamga_require(ok, reason)`). When one did not, the function raises, the statement
is undone whole, and the error names the reason (SQLSTATE TGREQ, the reason as its message). SQLite has
nothing to create: there the use cases run their statements in a transaction.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION tamga_require(ok boolean, reason text) RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF ok IS NOT TRUE THEN
                RAISE EXCEPTION USING ERRCODE = 'TGREQ', MESSAGE = reason;
            END IF;
            RETURN true;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION tamga_require(boolean, text)")
