"""Which of a campaign's settings a reload changed (what a running campaign logs when it
picks them up)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def changed_settings(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The names of the top-level settings whose values differ (added or removed count),
    sorted."""
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
