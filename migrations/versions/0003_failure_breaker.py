"""the failure-spike breaker: when a campaign's window of recent calls starts, and an index
to read a campaign's latest calls; the digest of the files a campaign was last loaded from

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("breaker_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("source_digest", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_attempts_campaign_id_settled_at",
        "attempts",
        ["campaign_id", "settled_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_attempts_campaign_id_settled_at", table_name="attempts")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("source_digest")
        batch.drop_column("breaker_since")
