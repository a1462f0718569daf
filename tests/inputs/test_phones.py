"""Number normalization against phonenumbers itself: the fast path (canonical E.164, answers
shared by numbers with the same deciding digits) must say exactly what phonenumbers says."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from phonenumbers import timezone as number_timezones

from dialer.phones import (
    InvalidNumberError,
    canonical_country_code,
    deciding_prefix,
    is_premium_rate,
    normalize_number,
    number_time_zones,
    special_number_reason,
)
from dialer.phones.patterns import country_patterns, pattern_reach

# NANP, and countries whose patterns differ in shape: variable lengths, many regions, mobiles
# with geographic zones, non-geographic codes.
COUNTRY_CODES = [1, 7, 33, 39, 44, 49, 52, 55, 61, 81, 86, 91, 234, 358, 800, 882, 971]


def reference(text: str) -> tuple[str | None, object, tuple[str, ...]]:
    """What phonenumbers says: the E.164 form if valid, the type, the zones."""
    number = phonenumbers.parse(text, None)
    if not phonenumbers.is_valid_number(number):
        return None, phonenumbers.number_type(number), ()
    zones = tuple(z for z in number_timezones.time_zones_for_number(number) if z != "Etc/Unknown")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, phonenumbers.number_type(number), zones


def ours(text: str) -> tuple[str | None, tuple[str, ...]]:
    try:
        normalized = normalize_number(text)
    except InvalidNumberError:
        return None, ()
    return normalized, number_time_zones(normalized)


def _examples() -> list[str]:
    """phonenumbers' own example numbers (valid ones) of many regions and types."""
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)[::3]:
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                text = phonenumbers.format_number(example, PhoneNumberFormat.E164)
                if text[1 + len(str(example.country_code))] != "0":
                    found.append(text)
    return found


EXAMPLES = _examples()
random_numbers = st.builds(
    lambda code, national: f"+{code}{national}",
    st.sampled_from(COUNTRY_CODES),
    st.text("0123456789", min_size=4, max_size=12).filter(lambda n: n[0] != "0"),
)
# valid numbers with their last digits replaced: mostly valid, sometimes just not
near_valid_numbers = st.builds(
    lambda example, keep, tail: example[: max(3, len(example) - keep)] + tail[:keep],
    st.sampled_from(EXAMPLES),
    st.integers(1, 8),
    st.text("0123456789", min_size=8, max_size=8),
)
numbers = st.one_of(random_numbers, near_valid_numbers)


@settings(max_examples=1000, deadline=None)
@given(numbers)
def test_fast_path_agrees_with_phonenumbers(text: str) -> None:
    try:
        e164, _type, zones = reference(text)
    except phonenumbers.NumberParseException:
        return
    assert ours(text) == (e164, zones)


@settings(max_examples=300, deadline=None)
@given(numbers, st.randoms(use_true_random=False))
def test_numbers_sharing_the_deciding_digits_get_the_same_answers(
    text: str, rng: random.Random
) -> None:
    """The claim the cache rests on, checked directly: change any digit after the deciding
    ones and phonenumbers' validity, type and zones stay the same."""
    try:
        expected = reference(text)
    except phonenumbers.NumberParseException:
        return
    prefix = deciding_prefix(text)
    if prefix is None:
        return  # phonenumbers reads it differently (a national prefix, a leading 0): no cache
    assert text.startswith(prefix)
    for _ in range(20):
        tail = "".join(rng.choice("0123456789") for _ in range(len(text) - len(prefix)))
        other = prefix + tail
        if canonical_country_code(other) is not None:
            assert reference(other)[1:] == expected[1:], (text, other, prefix)
            assert (reference(other)[0] is None) == (expected[0] is None), (text, other, prefix)


def test_every_country_code_is_analysable() -> None:
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    assert [c for c in COUNTRY_CODE_TO_REGION_CODE if country_patterns(c) is None] == []


@pytest.mark.parametrize(
    ("pattern", "digits", "reach"),
    [
        (r"\d{10}", "2125550123", 0),  # any digit anywhere: nothing to read
        (r"[2-9]\d{9}", "2125550123", 1),
        (r"212[2-9]\d{6}", "2125550123", 4),
        (r"212[2-9]\d{6}", "3125550123", 1),  # dies at the first digit
        (r"(?:212|3(?:05|12))\d{7}", "3055550123", 3),
        (r"\d{3}5\d{6}", "2125550123", 4),
        (r"\d+5", "2125", 4),  # after an unbounded repeat, every position counts
    ],
)
def test_pattern_reach(pattern: str, digits: str, reach: int) -> None:
    assert pattern_reach(pattern, digits) == reach


def test_national_and_canonical_forms_agree() -> None:
    assert normalize_number("(212) 555-2368", "US") == "+12125552368"
    assert normalize_number("+12125552368") == "+12125552368"
    with pytest.raises(InvalidNumberError):
        normalize_number("+12120552368")  # no exchange starts with 0
    assert phonenumbers.format_number(
        phonenumbers.parse("+12125552368"), PhoneNumberFormat.E164
    ) == normalize_number(" +12125552368 ")


NANP_REGIONS = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])
separator = st.sampled_from(["", " ", "-", "."])
nanp_national = st.builds(
    lambda one, sep1, paren, area, sep2, exchange, sep3, line: (
        f"{one}{sep1 if one else ''}{'(' if paren else ''}{area}{')' if paren else ''}"
        f"{sep2}{exchange}{sep3}{line}"
    ),
    st.sampled_from(["", "1"]),
    separator,
    st.booleans(),
    st.text("0123456789", min_size=3, max_size=3),
    separator,
    st.text("0123456789", min_size=3, max_size=3),
    separator,
    st.text("0123456789", min_size=4, max_size=4),
)


def national_reference(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


@settings(max_examples=1000, deadline=None)
@given(nanp_national, st.sampled_from(NANP_REGIONS))
def test_nanp_national_format_agrees_with_phonenumbers(raw: str, region: str) -> None:
    try:
        ours: str | None = normalize_number(raw, region)
    except InvalidNumberError:
        ours = None
    assert ours == national_reference(raw, region)


PREMIUM_EXAMPLES = [
    phonenumbers.format_number(example, PhoneNumberFormat.E164)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    if (example := phonenumbers.example_number_for_type(region, PhoneNumberType.PREMIUM_RATE))
]
near_premium_numbers = st.builds(
    lambda example, keep, tail: example[: max(3, len(example) - keep)] + tail[:keep],
    st.sampled_from(PREMIUM_EXAMPLES),
    st.integers(1, 8),
    st.text("0123456789", min_size=8, max_size=8),
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(numbers, near_premium_numbers))
def test_premium_rate_agrees_with_phonenumbers(text: str) -> None:
    try:
        e164, kind, _zones = reference(text)
    except phonenumbers.NumberParseException:
        return
    if e164 is not None:
        assert is_premium_rate(e164) == (kind == PhoneNumberType.PREMIUM_RATE), e164


@pytest.mark.parametrize(
    ("e164", "reason"),
    [
        ("+19005550123", "a premium-rate number"),
        ("+12129760123", "on a 976 exchange (pay-per-call)"),
        ("+12124110123", "on the N11 service code 411, not a subscriber line"),
        ("+13129110123", "on the N11 service code 911, not a subscriber line"),
        ("+12122110123", "on the N11 service code 211, not a subscriber line"),
        ("+449098790000", "a premium-rate number"),  # phonenumbers' type, outside NANP too
        ("+14155550100", None),  # the fictional 555-0100..0199 stay callable
        ("+14155550199", None),
        ("+18005550123", None),  # toll-free
        ("+12125552368", None),
        ("+12121110123", None),  # 111 is not N11 (N is 2-9); phonenumbers refuses it anyway
        ("+442079460000", None),
    ],
)
def test_special_numbers(e164: str, reason: str | None) -> None:
    assert special_number_reason(e164) == reason
