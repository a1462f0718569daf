"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "config", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("source_path", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("next_dial_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_table(
        "suppressions",
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("to_number", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "leads",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("lead_key", sa.String(length=200), nullable=False),
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column(
            "dynamic_variables",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "call_metadata",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_id", sa.String(length=36), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_leads_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint("campaign_id", "lead_key", name=op.f("uq_leads_campaign_id_lead_key")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_campaign_id_state", ["campaign_id", "state"], unique=False)
        batch_op.create_index(
            "ix_leads_due",
            ["campaign_id", "next_attempt_at", "id"],
            unique=False,
            postgresql_where=sa.text("state IN ('pending', 'retry_wait')"),
            sqlite_where=sa.text("state IN ('pending', 'retry_wait')"),
        )
        batch_op.create_index("ix_leads_to_number", ["to_number"], unique=False)

    op.create_table(
        "attempts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column("call_status", sa.String(length=32), nullable=True),
        sa.Column("disconnection_reason", sa.String(length=64), nullable=True),
        sa.Column("api_error", sa.Text(), nullable=True),
        sa.Column(
            "analysis", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_attempts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_attempts_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_call_id", ["call_id"], unique=False)
        batch_op.create_index("ix_attempts_lead_id", ["lead_id"], unique=False)
        batch_op.create_index(
            "ix_attempts_live_campaign",
            ["campaign_id", "lease_expires_at"],
            unique=False,
            postgresql_where=sa.text("state IN ('dialing', 'in_doubt', 'placed')"),
            sqlite_where=sa.text("state IN ('dialing', 'in_doubt', 'placed')"),
        )
        batch_op.create_index(
            "ix_attempts_live_number",
            ["to_number"],
            unique=True,
            postgresql_where=sa.text("state IN ('dialing', 'in_doubt', 'placed')"),
            sqlite_where=sa.text("state IN ('dialing', 'in_doubt', 'placed')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_attempts_live_number",
            postgresql_where=sa.text("state IN ('dialing', 'in_doubt', 'placed')"),
            sqlite_where=sa.text("state IN ('dialing', 'in_doubt', 'placed')"),
        )
        batch_op.drop_index(
            "ix_attempts_live_campaign",
            postgresql_where=sa.text("state IN ('dialing', 'in_doubt', 'placed')"),
            sqlite_where=sa.text("state IN ('dialing', 'in_doubt', 'placed')"),
        )
        batch_op.drop_index("ix_attempts_lead_id")
        batch_op.drop_index("ix_attempts_call_id")

    op.drop_table("attempts")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_to_number")
        batch_op.drop_index(
            "ix_leads_due",
            postgresql_where=sa.text("state IN ('pending', 'retry_wait')"),
            sqlite_where=sa.text("state IN ('pending', 'retry_wait')"),
        )
        batch_op.drop_index("ix_leads_campaign_id_state")

    op.drop_table("leads")
    op.drop_table("suppressions")
    op.drop_table("campaigns")
