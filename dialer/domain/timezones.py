"""Time zones: which IANA names exist, the zones of a US state, and the zone key a lead is
stored with."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from dialer.domain.spelling import closest

NO_ZONE = ""  # the zone key of a lead whose time zone is unknown

_EASTERN, _CENTRAL, _MOUNTAIN = "America/New_York", "America/Chicago", "America/Denver"
_PACIFIC, _ARIZONA = "America/Los_Angeles", "America/Phoenix"
# Every zone some part of a US state (or territory) keeps, by USPS code: a lead whose address
# is in a state that spans two zones is called only when both are inside its window, as with
# an area code that spans two. Zones that keep the same clock are written once (Detroit,
# Indianapolis and Louisville are New York's; Boise is Denver's).
STATE_ZONES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "CT",
            "DC",
            "DE",
            "GA",
            "MA",
            "MD",
            "ME",
            "NC",
            "NH",
            "NJ",
            "NY",
            "OH",
            "PA",
            "RI",
            "SC",
            "VA",
            "VT",
            "WV",
        ),
        (_EASTERN,),
    ),
    **dict.fromkeys(("FL", "IN", "KY", "MI", "TN"), (_EASTERN, _CENTRAL)),
    **dict.fromkeys(("AL", "AR", "IA", "IL", "LA", "MN", "MO", "MS", "OK", "WI"), (_CENTRAL,)),
    **dict.fromkeys(("KS", "ND", "NE", "SD", "TX"), (_CENTRAL, _MOUNTAIN)),
    **dict.fromkeys(("CO", "MT", "NM", "UT", "WY"), (_MOUNTAIN,)),
    "ID": (_MOUNTAIN, _PACIFIC),
    "OR": (_MOUNTAIN, _PACIFIC),
    "NV": (_MOUNTAIN, _PACIFIC),
    "AZ": (_ARIZONA,),
    "CA": (_PACIFIC,),
    "WA": (_PACIFIC,),
    "AK": ("America/Anchorage", "America/Adak"),
    "HI": ("Pacific/Honolulu",),
    "PR": ("America/Puerto_Rico",),
    "VI": ("America/St_Thomas",),
    "GU": ("Pacific/Guam",),
    "MP": ("Pacific/Saipan",),
    "AS": ("Pacific/Pago_Pago",),
}


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """The IANA time zones this machine knows."""
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _zones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in known_zones()}


def canonical_zone(name: str) -> str | None:
    """The IANA name `name` means, whatever its letters' case (`america/new_york`); None when
    it is none."""
    return name if name in known_zones() else _zones_by_lower_name().get(name.lower())


@lru_cache(maxsize=256)
def closest_zone(name: str) -> str | None:
    """The IANA name `name` most likely means (a typo), if any is close (each distinct
    misspelling is looked up once)."""
    return closest(name, known_zones())


def is_known_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows."""
    return name in known_zones()


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def lead_zone_key(
    timezone_column: str | None, number_zones: Iterable[str], states: Iterable[str] = ()
) -> str:
    """What the store keeps of a lead's zones: every zone it has — its own `timezone`, its
    number's zones and the zones of its address's state — '|'-joined; NO_ZONE when none is
    known.

    A lead is called only when its window is open in all of them, so a `timezone` column that
    disagrees with the number (or the address) narrows the window; it never widens it."""
    found = {z for s in states for z in STATE_ZONES.get(s, ())}
    found.update(number_zones)
    if timezone_column:
        found.add(timezone_column)
    return "|".join(sorted(found))
