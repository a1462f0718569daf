"""trust on the operators' paths: leads removed from their list, the call time behind a
campaign's known spend, ended calls still waiting for their cost, and the processes serving
campaigns (their heartbeat)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNCOSTED = sa.text("state = 'ended' AND cost_cents IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column("billed_ms", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_index(
        "ix_attempts_uncosted",
        "attempts",
        ["campaign_id"],
        postgresql_where=_UNCOSTED,
        sqlite_where=_UNCOSTED,
    )
    op.create_table(
        "processes",
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_processes_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("worker_id", name="pk_processes"),
    )

    _narrow_zones()


def _narrow_zones() -> None:
    """A lead's zones are now every zone it has (its `timezone` column no longer replaces its
    number's): recompute those of leads with a column, and forget the places their campaigns
    remember (a runner then counts leads by place until the next load)."""
    from dialer.domain.timezones import lead_zone_key
    from dialer.phones import number_time_zones

    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, campaign_id, to_number, timezone, states FROM leads "
            "WHERE timezone IS NOT NULL AND timezone <> ''"
        )
    ).fetchall()
    updates = [
        {
            "id": row.id,
            "zones": lead_zone_key(row.timezone, number_time_zones(row.to_number)),
        }
        for row in rows
    ]
    for start in range(0, len(updates), 5000):
        bind.execute(
            sa.text("UPDATE leads SET zones = :zones WHERE id = :id"),
            updates[start : start + 5000],
        )
    for campaign_id in sorted({row.campaign_id for row in rows}):
        bind.execute(
            sa.text("UPDATE campaigns SET places = NULL WHERE id = :id"), {"id": campaign_id}
        )


def downgrade() -> None:
    op.drop_table("processes")
    op.drop_index("ix_attempts_uncosted", table_name="attempts")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("billed_ms")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("removed_at")
