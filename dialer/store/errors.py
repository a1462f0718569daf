"""What went wrong with the store, in words a person can act on — and which faults are the
store going away for a while (a restart, a failover) rather than a problem to report."""

from __future__ import annotations

import errno
import socket

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from dialer.domain.causes import causes
from dialer.store.connection import SchemaOutOfDateError, StoreMissingError

_UNREACHABLE_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)
_CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,  # "the underlying connection is closed"
)
# SQLSTATE classes of a server going away: 08 connection exceptions; 57P01 admin shutdown,
# 57P02 crash shutdown, 57P03 cannot connect now (shutting down, starting up, recovering);
# 53300 too many connections (every slot of max_connections is taken: one will free).
_GOING_AWAY_STATES = ("08", "57P01", "57P02", "57P03", "53300")
# SQLSTATEs of a transaction the database rolled back so that another could go on: 40001
# serialization failure, 40P01 deadlock detected. Running it again is the documented answer.
_CONFLICT_STATES = frozenset({"40001", "40P01"})


class StoreError(Exception):
    """A store failure explained in one line (see `explain`)."""


class StoreOutageError(StoreError):
    """The store has not answered for longer than the process may wait."""


def is_connection_lost(exc: BaseException) -> bool:
    """The database is not answering (refused, reset, shutting down, starting up), as opposed
    to refusing what was asked."""
    for link in causes(exc):
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, (*_CONNECTION_LOST, ConnectionError, TimeoutError, socket.gaierror)):
            return True
        if isinstance(link, OSError) and link.errno in _UNREACHABLE_ERRNOS:
            return True
        state = getattr(link, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_GOING_AWAY_STATES):
            return True
    return False


def is_transient_conflict(exc: BaseException) -> bool:
    """The database rolled this transaction back in favour of another (a deadlock, a
    serialization failure): the same transaction, run again, will go through."""
    for link in causes(exc):
        for candidate in (link, getattr(link, "orig", None)):
            state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
            if state in _CONFLICT_STATES:
                return True
    return False


def shown_url(url: str) -> str:
    """A database URL as messages show it: no password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse is shown as given
        return url


def explain(exc: BaseException, url: str) -> str | None:
    """One line saying what went wrong with the store at `url` and what to do, or None when
    `exc` is not a store failure a person can fix (then it is a bug to report)."""
    where = shown_url(url)
    for link in causes(exc):
        if isinstance(link, StoreError | SchemaOutOfDateError | StoreMissingError):
            return str(link)
        text = str(link).lower()
        if "database or disk is full" in text or "no space left on device" in text:
            return (
                f"the store's disk is full ({where}): free some space, then run the same "
                "command again; nothing was lost"
            )
        if "readonly database" in text or "read-only file system" in text:
            return f"the store is read-only ({where}): make it writable, then run again"
        if "unable to open database file" in text:
            return (
                f"cannot open the store ({where}): check that its folder exists and that "
                "this user may write there"
            )
        if isinstance(link, PermissionError):
            return f"permission denied: {link.filename or where}"
        if isinstance(
            link, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
        ):
            return (
                f"the database refused the login ({where}): check DATABASE_URL's user and password"
            )
        if isinstance(link, asyncpg.InvalidCatalogNameError):
            return f"no such database ({where}): create it, then `dialer db upgrade`"
    if is_connection_lost(exc):
        return (
            f"cannot reach the database at {where}: is it running, and is DATABASE_URL "
            "right? Nothing was changed"
        )
    return None
