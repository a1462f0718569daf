"""Engines and migrations: one place that knows how SQLite and Postgres are opened."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///dialer.db"
_MIGRATION_LOCK = 0x6469616C  # "dial": serializes concurrent `db upgrade` on Postgres


class SchemaOutOfDateError(RuntimeError):
    """The Postgres store needs `dialer db upgrade` before use."""


class SchemaTooNewError(SchemaOutOfDateError):
    """The store is at a migration this version of dialer does not know: a newer dialer wrote
    it. Neither migrating nor using it is safe."""


class StoreMissingError(RuntimeError):
    """A read command was pointed at an SQLite store that does not exist (it is not created)."""


class StoreUrlError(ValueError):
    """DATABASE_URL names a store dialer cannot open (said in one line, password hidden)."""


# The drivers dialer ships: a URL of the usual forms is read with them.
_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
_DRIVERS |= {"sqlite": "sqlite+aiosqlite"}


def database_url(explicit: str | None = None) -> str:
    """The store's URL: `explicit`, else DATABASE_URL, else the embedded SQLite file. The
    usual forms are read with the drivers dialer ships (`postgresql://…`, `postgres://…` and
    `postgresql+psycopg://…` as `postgresql+asyncpg://…`, `sqlite:///…` as
    `sqlite+aiosqlite:///…`); any other is refused in one line."""
    url = explicit or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    scheme, sep, rest = url.partition("://")
    backend = scheme.partition("+")[0].lower()
    if not sep or backend not in _DRIVERS:
        shown = f"{scheme}://…" if sep else url[:40]
        raise StoreUrlError(
            f"DATABASE_URL {shown!r} is not a store dialer can open: use "
            "sqlite+aiosqlite:///PATH (the default, a file) or "
            "postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE"
        )
    return f"{_DRIVERS[backend]}://{rest}"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path | None:
    """The absolute path of an SQLite store's file (None: not SQLite, or in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    name = parsed.database
    if parsed.query.get("uri") == "true" and name.startswith("file:"):
        name = name.removeprefix("file:").partition("?")[0]  # file:/x/dialer.db?mode=ro
    if name == ":memory:" or "mode=memory" in str(parsed.query):
        return None
    return Path(name).resolve()


def store_location(url: str) -> str:
    """Where the store at `url` is, as messages show it: an SQLite store's absolute file path,
    else the URL without its password."""
    found = sqlite_file(url)
    return str(found) if found is not None else make_url(url).render_as_string(hide_password=True)


def create_engine(url: str) -> AsyncEngine:
    """An async engine with the settings this store relies on."""
    if is_sqlite(url):
        # One connection: this process's transactions queue in the pool (an async wait)
        # instead of spinning in SQLite's busy handler; other processes still see a lock.
        engine = create_async_engine(
            url, connect_args={"timeout": 60}, pool_size=1, max_overflow=0, pool_timeout=120
        )
        _configure_sqlite(engine)
        return engine
    # Up to 10 connections a process: a fleet of processes shares one Postgres's
    # max_connections (100 by default), and a process's transactions are short.
    return create_async_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver, so every transaction can start as
        # BEGIN IMMEDIATE: one writer at a time, no lock upgrades that fail with SQLITE_BUSY.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def migrations_dir() -> Path:
    """Migrations ship inside the wheel (dialer/migrations); a checkout has them at the top."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "migrations", package.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError(f"migrations not found next to {package}")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _head(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _refuse_unknown_revision(connection: Connection, url: str) -> None:
    """Stop before Alembic sees a revision this version does not ship (it would fail with a
    traceback): a newer dialer migrated this store."""
    current = _current(connection)
    if current is None:
        return
    script = ScriptDirectory.from_config(alembic_config(url))
    if current in {revision.revision for revision in script.walk_revisions()}:
        return
    raise SchemaTooNewError(
        f"this store was written by a newer dialer ({store_location(url)} is at migration "
        f"{current}; this version knows up to {script.get_current_head()}): upgrade dialer, "
        "or point DATABASE_URL at another store"
    )


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision`; concurrent callers on Postgres wait for each other."""
    url = engine.url.render_as_string(hide_password=False)

    def run(connection: Connection) -> None:
        _refuse_unknown_revision(connection, url)
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        await conn.run_sync(run)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    url = engine.url.render_as_string(hide_password=False)

    def run(connection: Connection) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def ensure_schema(engine: AsyncEngine) -> None:
    """Bring the embedded SQLite store up to date; ask for `dialer db upgrade` on Postgres."""
    url = engine.url.render_as_string(hide_password=False)
    head = _head(url)
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
        if current != head:
            await conn.run_sync(_refuse_unknown_revision, url)
        await conn.rollback()
    if current == head:
        return
    if engine.dialect.name == "sqlite":
        await upgrade(engine)
        return
    raise SchemaOutOfDateError(
        f"the store at {engine.url.render_as_string(hide_password=True)} is at migration "
        f"{current or 'none'}, the code needs {head}: run `dialer db upgrade`"
    )


async def open_engine(
    url: str | None = None, *, migrate: bool = True, create: bool = True
) -> AsyncEngine:
    """An engine for the store at `url` (default: DATABASE_URL, else the embedded SQLite file),
    its schema checked (and the embedded SQLite store migrated) unless `migrate` is False.
    With `create` False, an SQLite file that does not exist is an error, not a new store."""
    url = database_url(url)
    missing = sqlite_file(url)
    if not create and missing is not None and not missing.exists():
        raise StoreMissingError(
            f"no store at {missing} (set DATABASE_URL or run from the folder you ran "
            "`dialer run` in)"
        )
    engine = create_engine(url)
    if migrate:
        try:
            await ensure_schema(engine)
        except BaseException:
            await engine.dispose()
            raise
    return engine


async def upgrade_store(url: str | None, revision: str = "head") -> str:
    """`dialer db upgrade`: migrate the store at `url`; returns its URL without a password."""
    engine = create_engine(database_url(url))
    try:
        await upgrade(engine, revision)
    finally:
        await engine.dispose()
    return engine.url.render_as_string(hide_password=True)
