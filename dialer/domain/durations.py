"""Durations as users write them in campaign files: `30m`, `2h`, `1h30m`, `45s`, `1d`, `500ms`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | int | float) -> timedelta:
    """Parse a duration; a bare number means seconds. Raises ValueError with a readable message."""
    if isinstance(text, bool):
        raise ValueError(f"expected a duration like 30m or 2h, got {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"duration must not be negative, got {text!r}")
        return timedelta(seconds=float(text))
    compact = text.strip().replace(" ", "").lower()
    if not compact:
        raise ValueError("expected a duration like 30m or 2h, got an empty string")
    try:
        return timedelta(seconds=float(compact))
    except ValueError:
        pass
    pos, seconds = 0, 0.0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(compact) or pos == 0:
        raise ValueError(f"expected a duration like 30m, 2h or 1h30m, got {text!r}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The short form, exact to the millisecond: `1h30m`, `45s`, `1s250ms`.
    parse_duration(format_duration(d)) == d for whole milliseconds."""
    total_ms = round(delta.total_seconds() * 1000)
    if total_ms <= 0:
        return "0s"
    days, rest = divmod(total_ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s"), (millis, "ms")]
    return "".join(f"{value}{unit}" for value, unit in parts if value)


# A duration in a settings file: "90s", "2h", "1d 12h" or seconds; written back the same way.
Duration = Annotated[
    timedelta,
    BeforeValidator(lambda v: v if isinstance(v, timedelta) else parse_duration(v)),
    PlainSerializer(format_duration, return_type=str),
]
