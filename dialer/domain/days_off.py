"""Days without calls: US federal and state public holidays (from the `holidays` package, with
its Saturday/Sunday observance) looked up by local date. Pure: the calendars are computed."""

from __future__ import annotations

from datetime import date
from functools import lru_cache


@lru_cache(maxsize=1024)
def _calendar(state: str | None, year: int) -> dict[date, str]:
    import holidays as holiday_calendars  # a few hundred ms: only when a rule asks

    try:
        found = holiday_calendars.country_holidays("US", subdiv=state, years=year, observed=True)
    except NotImplementedError:  # a code the package does not know as a US subdivision
        return {}
    return dict(found.items())


def state_holiday(state: str, day: date) -> str | None:
    """The name of the public holiday `state` keeps (or observes) on `day`, if any: federal
    holidays included."""
    return _calendar(state, day.year).get(day)


def federal_holiday(day: date) -> str | None:
    """The name of the US federal holiday on (or observed on) `day`, if any."""
    return _calendar(None, day.year).get(day)
