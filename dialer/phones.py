"""Phone numbers: E.164 normalization and the time zones a number belongs to."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat
from phonenumbers import timezone as number_timezones
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_UNKNOWN_ZONE = "Etc/Unknown"


class InvalidNumberError(ValueError):
    """A string that is not a valid, dialable phone number."""


def _fast_e164(text: str) -> PhoneNumber | None:
    """Build the number directly when it is already canonical E.164.

    phonenumbers.parse is the slowest step of loading a large list; canonical input skips it.
    Numbers whose national part starts with 0 (Italian style) take the full parse.
    """
    if not _E164.fullmatch(text):
        return None
    for size in (1, 2, 3):
        code = int(text[1 : 1 + size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            national = text[1 + size :]
            if not national or national[0] == "0":
                return None
            return PhoneNumber(country_code=code, national_number=int(national))
    return None


def normalize_number(raw: str, default_region: str | None = None) -> str:
    """Return `raw` as E.164 (`+14155550123`), or raise InvalidNumberError saying why."""
    text = raw.strip()
    if not text:
        raise InvalidNumberError("phone number is empty")
    number = _fast_e164(text)
    if number is None:
        try:
            number = phonenumbers.parse(text, default_region)
        except phonenumbers.NumberParseException as exc:
            hint = "" if default_region else " (set default_region for national-format numbers)"
            raise InvalidNumberError(f"{raw!r} is not a phone number: {exc._msg}{hint}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumberError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_e164(text: str) -> bool:
    """Whether `text` is shaped like E.164 (a plus and 7 to 15 digits)."""
    return _E164.fullmatch(text) is not None


# phonenumbers maps a number to zones by its longest known prefix of at most 9 digits, so the
# first 9 digits (and the length, which decides the number's type) settle the answer.
_ZONE_PREFIX_CHARS = 1 + 9
_zones_by_prefix: dict[tuple[str, int], tuple[str, ...]] = {}


def number_time_zones(e164: str) -> tuple[str, ...]:
    """IANA zones the number may be in (several for some area codes); () when unknown."""
    key = (e164[:_ZONE_PREFIX_CHARS], len(e164))
    found = _zones_by_prefix.get(key)
    if found is None:
        try:
            number = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            return ()
        zones = number_timezones.time_zones_for_number(number)
        found = tuple(z for z in zones if z != _UNKNOWN_ZONE)
        if len(_zones_by_prefix) < 200_000:
            _zones_by_prefix[key] = found
    return found


def mask_number(e164: str) -> str:
    """`+1415•••0123` style masking for logs: keep the country prefix and the last 4 digits."""
    if len(e164) <= 6:
        return "•" * len(e164)
    return e164[:2] + "•" * (len(e164) - 6) + e164[-4:]
