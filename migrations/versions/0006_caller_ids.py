"""caller-ID pools: a lead's sticky from-number and alternate numbers, each attempt's
from-number and voicemail action, the from-numbers a campaign retired, and the places a
campaign's leads are in

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("places", JSON, nullable=True))
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("from_number", sa.String(20), nullable=True))
        batch.add_column(sa.Column("alternates", JSON, nullable=True))
        batch.add_column(
            sa.Column("number_index", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("from_number", sa.String(20), nullable=True))
        batch.add_column(sa.Column("voicemail_action", sa.String(16), nullable=True))
    op.create_index("ix_attempts_from_number_created_at", "attempts", ["from_number", "created_at"])
    op.create_table(
        "retired_numbers",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_retired_numbers_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "number", name="pk_retired_numbers"),
    )


def downgrade() -> None:
    op.drop_table("retired_numbers")
    op.drop_index("ix_attempts_from_number_created_at", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("voicemail_action")
        batch.drop_column("from_number")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("number_index")
        batch.drop_column("alternates")
        batch.drop_column("from_number")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("places")
