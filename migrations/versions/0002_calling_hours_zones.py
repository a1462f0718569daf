"""lead time zones for calling hours; attempts per number per day

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("zones", sa.Text(), server_default="", nullable=False))
    op.create_index(
        "ix_attempts_to_number_created_at", "attempts", ["to_number", "created_at"], unique=False
    )
    _backfill_zones()


def _backfill_zones() -> None:
    """Leads loaded before this revision get their zones now, as a load would compute them."""
    from dialer.domain.timezones import lead_zone_key
    from dialer.phones import number_time_zones

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, to_number, timezone FROM leads")).fetchall()
    updates = [
        {"id": row.id, "zones": lead_zone_key(row.timezone, number_time_zones(row.to_number))}
        for row in rows
    ]
    for start in range(0, len(updates), 5000):
        bind.execute(
            sa.text("UPDATE leads SET zones = :zones WHERE id = :id"),
            updates[start : start + 5000],
        )


def downgrade() -> None:
    op.drop_index("ix_attempts_to_number_created_at", table_name="attempts")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("zones")
