"""Time zones: which IANA names exist, and the zone key a lead is stored with."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

NO_ZONE = ""  # the zone key of a lead whose time zone is unknown


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """The IANA time zones this machine knows."""
    return frozenset(available_timezones())


def is_known_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows."""
    return name in known_zones()


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def lead_zone_key(timezone_column: str | None, number_zones: Iterable[str]) -> str:
    """What the store keeps of a lead's zones: its own `timezone`, else the zones of its
    number, '|'-joined; NO_ZONE when neither is known."""
    if timezone_column:
        return timezone_column
    return "|".join(sorted(number_zones))
