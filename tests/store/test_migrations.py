"""Migrations: upgrade yields exactly the code's schema; downgrade to base and back works."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from dialer.store.connection import create_engine, downgrade, upgrade
from dialer.store.schema import metadata

pytestmark = pytest.mark.anyio


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_upgrade_matches_metadata_and_downgrade_round_trips(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            assert await conn.run_sync(_tables) == set(metadata.tables)
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_leads_loaded_before_0002_get_their_zones(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        await downgrade(engine, "0001")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO campaigns (id, name, config, status, created_at, updated_at) "
                    "VALUES (1, 'old', '{}', 'active', :now, :now)"
                ),
                {"now": datetime.now(UTC)},
            )
            await conn.execute(
                text(
                    "INSERT INTO leads (campaign_id, lead_key, to_number, timezone, "
                    "dynamic_variables, call_metadata, content_hash, state, attempts, "
                    "next_attempt_at, created_at, updated_at) VALUES "
                    "(1, 'a', '+12122000001', NULL, '{}', '{}', 'h', 'pending', 0, :now, :now, :now),"
                    "(1, 'b', '+12132000001', 'Europe/Paris', '{}', '{}', 'h', 'pending', 0, "
                    ":now, :now, :now)"
                ),
                {"now": datetime.now(UTC)},
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT lead_key, zones FROM leads"))
            zones = {row.lead_key: row.zones for row in rows}
        # every zone a lead has: its own column and its number's (0002 computes them as a
        # load does now; 0007 recomputes those of leads with a column)
        assert zones == {"a": "America/New_York", "b": "America/Los_Angeles|Europe/Paris"}
    finally:
        await engine.dispose()
