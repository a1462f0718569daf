"""The store: campaigns, leads, attempts and suppressions in SQLite or Postgres."""

from dialer.store.engine import open_store
from dialer.store.repository import Store

__all__ = ["Store", "open_store"]
