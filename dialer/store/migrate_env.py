"""Alembic's environment, shared by `dialer db upgrade` and the `alembic` command in a checkout."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection

from dialer.store.connection import create_engine
from dialer.store.schema import metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_configure)
            await conn.commit()
    finally:
        await engine.dispose()


def run() -> None:
    """Entry point for migrations/env.py."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = os.environ.get("DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set DATABASE_URL (e.g. sqlite+aiosqlite:///dialer.db)")
    asyncio.run(_run_online(url))
