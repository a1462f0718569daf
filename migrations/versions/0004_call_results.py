"""what a call cost and where its recording is; what a campaign has spent

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("spend_cents", sa.Double(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column("billed_calls", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("cost_cents", sa.Double(), nullable=True))
        batch.add_column(sa.Column("recording_url", sa.Text(), nullable=True))
    op.create_index("ix_attempts_campaign_id_created_at", "attempts", ["campaign_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_attempts_campaign_id_created_at", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("recording_url")
        batch.drop_column("cost_cents")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("billed_calls")
        batch.drop_column("spend_cents")
