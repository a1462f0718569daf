"""Phone numbers: E.164 normalization and the time zones a number belongs to."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Generic, TypeVar

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat, PhoneNumberType
from phonenumbers import timezone as number_timezones
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.tzdata import TIMEZONE_DATA as _TZ_DATA
from phonenumbers.tzdata import TIMEZONE_LONGEST_PREFIX as _TZ_LONGEST_PREFIX

from dialer.phones.patterns import country_patterns

T = TypeVar("T")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_UNKNOWN_ZONE = "Etc/Unknown"


class InvalidNumberError(ValueError):
    """A string that is not a valid, dialable phone number."""


def canonical_country_code(text: str) -> int | None:
    """The country code of `text` if phonenumbers would read it back unchanged, else None.

    phonenumbers.parse is the slowest step of loading a large list; canonical input skips it.
    Numbers whose national part starts with 0 (Italian style) or with what the country's
    national prefix rule would strip or rewrite take the full parse.
    """
    if not _E164.fullmatch(text):
        return None
    for size in (1, 2, 3):
        code = int(text[1 : 1 + size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            national = text[1 + size :]
            if not national or national[0] == "0":
                return None
            prefix_rule = _national_prefix_rule(code)
            if prefix_rule is not None and prefix_rule.match(national):
                return None
            return code
    return None


# A North American number written nationally: (415) 555-0123, 415.555.0123, 1-415-555-0123...
_NANP_NATIONAL = re.compile(r"(?:1[ .-]?)?\(?([2-9]\d\d)\)?[ .-]?(\d{3})[ .-]?(\d{4})")


def _nanp_national_as_e164(text: str, default_region: str | None) -> str | None:
    """The E.164 form phonenumbers.parse gives a NANP number in plain national format, without
    calling it: +1 and the ten digits (a leading 1 is the country code; an area code never
    starts with 0 or 1, so nothing else is stripped). tests/test_phones.py holds this against
    phonenumbers for every NANP region. Anything else (extensions, letters, other punctuation)
    takes the full parse."""
    if default_region is None or not _is_nanp_region(default_region):
        return None
    match = _NANP_NATIONAL.fullmatch(text)
    return None if match is None else "+1" + "".join(match.groups())


@functools.cache
def _is_nanp_region(region: str) -> bool:
    return phonenumbers.country_code_for_region(region.upper()) == 1


@functools.cache
def _national_prefix_rule(country_code: int) -> re.Pattern[str] | None:
    """The pattern phonenumbers.parse strips (or rewrites) from the start of a national number
    of this country code, if any."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    rule = metadata.national_prefix_for_parsing if metadata is not None else None
    return re.compile(rule) if rule else None


def normalize_number(raw: str, default_region: str | None = None) -> str:
    """Return `raw` as E.164 (`+14155550123`), or raise InvalidNumberError saying why."""
    return number_and_zones(raw, default_region)[0]


def number_and_zones(raw: str, default_region: str | None = None) -> tuple[str, tuple[str, ...]]:
    """`raw` as E.164 and the IANA zones it may be in (see number_time_zones); raises
    InvalidNumberError saying why it is not a valid number."""
    e164, zones, _premium = number_facts(raw, default_region)
    return e164, zones


def number_facts(raw: str, default_region: str | None = None) -> tuple[str, tuple[str, ...], bool]:
    """`raw` as E.164, the IANA zones it may be in, and whether it is a premium-rate number;
    raises InvalidNumberError saying why it is not a valid number."""
    text = raw.strip()
    if not text:
        raise InvalidNumberError("phone number is empty")
    text = _nanp_national_as_e164(text, default_region) or text
    code = canonical_country_code(text)
    if code is not None:
        # canonical already: the E.164 form is the text itself
        valid, zones, premium = _facts(text, code)
        if not valid:
            raise InvalidNumberError(f"{raw!r} is not a valid phone number")
        return text, zones, premium
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if default_region else " (set default_region for national-format numbers)"
        raise InvalidNumberError(f"{raw!r} is not a phone number: {exc._msg}{hint}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumberError(f"{raw!r} is not a valid phone number")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, _zones_of(number), _is_premium(number)


def is_e164(text: str) -> bool:
    """Whether `text` is shaped like E.164 (a plus and 7 to 15 digits)."""
    return _E164.fullmatch(text) is not None


def number_time_zones(e164: str) -> tuple[str, ...]:
    """IANA zones the number may be in (several for some area codes); () when unknown."""
    try:
        return number_and_zones(e164)[1]
    except InvalidNumberError:
        return ()  # not a valid number: no zone


class _PrefixCache(Generic[T]):
    """Answers filed under the leading part of a number that decides them, and its length: any
    number sharing both gets the same answer."""

    LIMIT = 100_000  # entries; about 15 MB at most

    def __init__(self) -> None:
        self._by_length: dict[int, dict[str, T]] = {}
        self._prefix_sizes: set[int] = set()
        self._entries = 0

    def get(self, text: str) -> T | None:
        by_prefix = self._by_length.get(len(text))
        if by_prefix is not None:
            for size in self._prefix_sizes:
                found = by_prefix.get(text[:size])
                if found is not None:
                    return found
        return None

    def put(self, text: str, prefix: str, answer: T) -> None:
        if self._entries < self.LIMIT:
            self._by_length.setdefault(len(text), {})[prefix] = answer
            self._prefix_sizes.add(len(prefix))
            self._entries += 1


@dataclass(frozen=True, slots=True)
class _Validity:
    valid: bool
    deciding: int | None  # characters of the E.164 text that decide it; None: unknown
    premium: bool  # a premium-rate number: its type, decided by the same characters


_validity = _PrefixCache[_Validity]()  # misses cost a walk over the country's patterns
_zones = _PrefixCache[tuple[str, ...]]()  # misses cost one phonenumbers lookup


def _facts(text: str, country_code: int) -> tuple[bool, tuple[str, ...], bool]:
    """Validity, zones and premium rate of the canonical E.164 `text`."""
    validity = _validity_of(text, country_code)
    if not validity.valid:
        return False, (), False
    zones = _zones.get(text)
    if zones is None:
        zones = _zones_of(_number(text, country_code))
        if validity.deciding is not None:
            _zones.put(text, _zone_prefix(text, validity.deciding), zones)
    return True, zones, validity.premium


def _validity_of(text: str, country_code: int) -> _Validity:
    """Validity and premium rate of the canonical E.164 `text`, asked of phonenumbers once per
    block of numbers that share its deciding digits and length."""
    validity = _validity.get(text)
    if validity is None:
        number = _number(text, country_code)
        valid = phonenumbers.is_valid_number(number)
        validity = _Validity(
            valid,
            _validity_prefix_size(text, country_code),
            valid and _is_premium(number),
        )
        if validity.deciding is not None:
            _validity.put(text, text[: validity.deciding], validity)
    return validity


@functools.cache
def _premium_patterns(country_code: int) -> tuple[re.Pattern[str], ...]:
    """The premium-rate patterns of every region that shares the country code."""
    found: set[str] = set()
    for region in COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        desc = metadata.premium_rate if metadata is not None else None
        if desc is not None and desc.national_number_pattern:
            found.add(desc.national_number_pattern)
    return tuple(re.compile(pattern) for pattern in sorted(found))


def _is_premium(number: PhoneNumber) -> bool:
    """Whether phonenumbers types a valid number PREMIUM_RATE. Its number_type first finds the
    number's region (for +1, by trying some 25 regions): only numbers that match some region's
    premium pattern are asked that way."""
    national = phonenumbers.national_significant_number(number)
    if not any(p.fullmatch(national) for p in _premium_patterns(number.country_code)):
        return False
    return bool(phonenumbers.number_type(number) == PhoneNumberType.PREMIUM_RATE)


def is_premium_rate(e164: str) -> bool:
    """Whether a valid E.164 number is a premium-rate number (phonenumbers' PREMIUM_RATE), from
    the same per-block cache as its validity."""
    code = canonical_country_code(e164)
    if code is not None:
        return _validity_of(e164, code).premium
    try:
        return _is_premium(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return False


def special_number_reason(e164: str, premium: bool | None = None) -> str | None:
    """Why a valid E.164 number is no ordinary line to call — a premium-rate number (the callee
    side bills the caller: +1 900, +44 9…), a NANP 976 (pay-per-call) exchange, or a NANP N11
    service code (411, 911, …) as the exchange — or None. Toll-free numbers and the fictional
    555-0100…0199 are ordinary. `premium`: whether it is premium-rate if known (number_facts
    says), else read from the cache. Cheap: string checks and a flag."""
    if e164.startswith("+1") and len(e164) == 12:
        exchange = e164[5:8]
        if exchange == "976":
            return "on a 976 exchange (pay-per-call)"
        if exchange[0] != "1" and exchange.endswith("11"):  # N11: N is 2-9
            return f"on the N11 service code {exchange}, not a subscriber line"
    if is_premium_rate(e164) if premium is None else premium:
        return "a premium-rate number"
    return None


def _number(text: str, country_code: int) -> PhoneNumber:
    national = text[1 + len(str(country_code)) :]
    return PhoneNumber(country_code=country_code, national_number=int(national))


def _zones_of(number: PhoneNumber) -> tuple[str, ...]:
    return tuple(z for z in number_timezones.time_zones_for_number(number) if z != _UNKNOWN_ZONE)


def _validity_prefix_size(text: str, country_code: int) -> int | None:
    """How many characters of the E.164 `text` settle what phonenumbers' patterns say of it
    (validity and type), with its length."""
    patterns = country_patterns(country_code)
    if patterns is None:
        return None
    national_at = 1 + len(str(country_code))
    return national_at + patterns.deciding_digits(text[national_at:])


def _zone_prefix(text: str, at_least: int) -> str:
    """The leading part of `text` (at least `at_least` characters, which settle its type) that
    settles its time zones: they come from the longest listed prefix of the number, so read on
    until no longer listed prefix can begin with what was read."""
    digits = at_least - 1
    while digits < _TZ_LONGEST_PREFIX and text[1 : 1 + digits] in _tz_extended_prefixes():
        digits += 1
    return text[: 1 + digits]


def deciding_prefix(text: str) -> str | None:
    """The leading part of a canonical E.164 `text` that, with its length, settles its validity,
    type and time zones; None when the fast path does not apply. (For tests.)"""
    code = canonical_country_code(text)
    size = None if code is None else _validity_prefix_size(text, code)
    return None if size is None else _zone_prefix(text, size)


@functools.cache
def _tz_extended_prefixes() -> frozenset[str]:
    """Every proper prefix of a listed time-zone prefix: a number starting with one of these
    may still fall under a longer listed prefix."""
    return frozenset(key[:n] for key in _TZ_DATA for n in range(len(key)))


def mask_number(e164: str) -> str:
    """`+1415•••0123` style masking for logs: keep the country prefix and the last 4 digits."""
    if len(e164) <= 6:
        return "•" * len(e164)
    return e164[:2] + "•" * (len(e164) - 6) + e164[-4:]


# Geocoder descriptions that are neither a state's name nor "City, ST".
_STATE_NAME_EXCEPTIONS = {"Washington State": "WA", "Washington D.C.": "DC"}
_CITY_STATE = re.compile(r",\s*([A-Z]{2})$")
# A few exchanges tried when a number's own exchange has no description.
_SAMPLE_EXCHANGES = ("2010000", "3010000", "4010000", "5010000", "6010000", "7010000")


@functools.cache
def _state_names() -> dict[str, str]:
    from holidays.countries.united_states import UnitedStates

    return dict(UnitedStates.subdivisions_aliases)


def _state_of_description(description: str) -> str | None:
    if description in _STATE_NAME_EXCEPTIONS:
        return _STATE_NAME_EXCEPTIONS[description]
    match = _CITY_STATE.search(description)
    if match:
        return match.group(1)
    return _state_names().get(description)


def _area_code_state(area_code: str, first_number: str) -> str | None:
    from phonenumbers import geocoder  # loads its data on first use only

    for e164 in (first_number, *(f"+1{area_code}{x}" for x in _SAMPLE_EXCHANGES)):
        try:
            number = phonenumbers.parse(e164)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.region_code_for_number(number) != "US":
            return None
        state = _state_of_description(geocoder.description_for_number(number, "en"))
        if state is not None:
            return state
    return None


_area_states: dict[str, str | None] = {}


def number_state(e164: str) -> str | None:
    """The US state (USPS code) of a number's area code, from phonenumbers' geocoder; None for
    numbers outside the US and non-geographic codes. An area code lies in one state, so the
    answer is worked out once per area code."""
    if not e164.startswith("+1") or len(e164) != 12:
        return None
    area_code = e164[2:5]
    if area_code not in _area_states:
        _area_states[area_code] = _area_code_state(area_code, e164)
    return _area_states[area_code]
