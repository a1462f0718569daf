"""the HTTP API: its bearer tokens (an id, a digest of the secret, read-only or not), and a
campaign's leads indexed in lead order (all, and by state) for pages of results

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("name", name="uq_api_tokens_name"),
    )
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_campaign_id_state")
        batch.create_index("ix_leads_campaign_id_state_id", ["campaign_id", "state", "id"])
        batch.create_index("ix_leads_campaign_id_id", ["campaign_id", "id"])


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_campaign_id_id")
        batch.drop_index("ix_leads_campaign_id_state_id")
        batch.create_index("ix_leads_campaign_id_state", ["campaign_id", "state"])
    op.drop_table("api_tokens")
