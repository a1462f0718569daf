"""Calling hours: pure functions of a window, a time zone and an instant (no clock reads here)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows."""
    return name in _zones()


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
