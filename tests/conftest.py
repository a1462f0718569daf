"""Shared fixtures: a fresh store per test on SQLite and on Postgres (skipped without one)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import asyncpg
import pytest

from dialer.store import Store, open_store
from dialer.store.connection import create_engine, upgrade

PG_ADMIN_DSN = os.environ.get("DIALER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_PG_TEMPLATE = f"dialer_tpl_{os.getpid()}"
_pg_state: dict[str, str | None] = {}


def _pg_reason() -> str | None:
    """None when Postgres answers; else why the Postgres cases are skipped."""
    if "reason" in _pg_state:
        return _pg_state["reason"]
    host, port = "127.0.0.1", 5432
    try:
        with socket.create_connection((host, port), timeout=1):
            pass
    except OSError as exc:
        _pg_state["reason"] = (
            f"no Postgres at {host}:{port} ({exc}); set DIALER_TEST_PG or start one"
        )
        return _pg_state["reason"]
    _pg_state["reason"] = None
    return None


def _sqlalchemy_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{dbname}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _ensure_template() -> None:
    if _pg_state.get("template"):
        return
    await _admin(f'DROP DATABASE IF EXISTS "{_PG_TEMPLATE}"')
    await _admin(f'CREATE DATABASE "{_PG_TEMPLATE}"')
    engine = create_engine(_sqlalchemy_url(_PG_TEMPLATE))
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    _pg_state["template"] = _PG_TEMPLATE


async def new_postgres_database() -> tuple[str, str]:
    """A fresh, migrated database cloned from the session template: (url, name)."""
    await _ensure_template()
    name = f"dialer_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_PG_TEMPLATE}"')
    return _sqlalchemy_url(name), name


async def drop_postgres_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _drop_template() -> Iterator[None]:
    yield
    if _pg_state.get("template"):
        anyio.run(_admin, f'DROP DATABASE IF EXISTS "{_PG_TEMPLATE}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL to an empty, migrated store of each kind."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        store = await open_store(url)  # migrates the embedded store on first use
        await store.close()
        yield url
        return
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    url, name = await new_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(name)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    try:
        yield opened
    finally:
        await opened.close()
