"""Phone numbers: E.164, validity, time zones and states, worked out once per block of
leading digits (`numbers`), from phonenumbers' own patterns (`patterns`)."""

from dialer.phones.numbers import (
    InvalidNumberError,
    canonical_country_code,
    deciding_prefix,
    is_premium_rate,
    mask_number,
    normalize_number,
    number_facts,
    number_state,
    number_time_zones,
    special_number_reason,
)

__all__ = [
    "InvalidNumberError",
    "canonical_country_code",
    "deciding_prefix",
    "is_premium_rate",
    "mask_number",
    "normalize_number",
    "number_facts",
    "number_state",
    "number_time_zones",
    "special_number_reason",
]
