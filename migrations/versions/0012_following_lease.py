"""following once per fleet: a campaign's following lease, and the call ends its holder saw

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "following_leases",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_following_leases_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name="pk_following_leases"),
    )
    op.create_table(
        "seen_call_ends",
        sa.Column("attempt_id", sa.String(36), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("call", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name="fk_seen_call_ends_attempt_id_attempts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_seen_call_ends_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_seen_call_ends"),
    )
    op.create_index("ix_seen_call_ends_campaign_id", "seen_call_ends", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_seen_call_ends_campaign_id", table_name="seen_call_ends")
    op.drop_table("seen_call_ends")
    op.drop_table("following_leases")
