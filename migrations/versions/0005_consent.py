"""a lead's consent on record, its states (for state calling rules), and why it waits when a
rule deferred it

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("wait_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("states", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("states")
        batch.drop_column("wait_reason")
        batch.drop_column("consent_at")
