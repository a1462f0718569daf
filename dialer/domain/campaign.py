"""A campaign's settings, typed: pacing, calling hours, retry rules and the rest of its file
but the lead list (dialer.inputs.campaign_file reads the file itself)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dialer.domain.durations import Duration
from dialer.domain.goal import GoalSetting
from dialer.domain.reasons import DISCONNECTION_REASONS, check_outcome_name
from dialer.domain.results_push import ResultsWebhook
from dialer.domain.spelling import closest
from dialer.domain.state_rules import ClockTime, StateRuleRow, us_state_codes
from dialer.domain.steps import LocalWindow, Step
from dialer.domain.timezones import is_known_zone, known_zones
from dialer.domain.variables import StringVariables
from dialer.domain.variants import Variant
from dialer.phones import InvalidNumberError, normalize_number

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Outcomes worth another try later (retell-api.md, "Outcomes a dialer should treat alike").
DEFAULT_RETRY_ON = (
    "dial_no_answer",
    "dial_busy",
    "voicemail_reached",
    "machine_detected",
    "ivr_reached",
    "telephony_provider_unavailable",
    "concurrency_limit_reached",
    "error",
)
DEFAULT_COST_PER_MINUTE = 0.15  # US$ per minute of call, before a campaign's own costs are known
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Validation context of settings read back from the store: they were checked when loaded, and
# a name a later version no longer knows must not stop a worker from reading its campaign.
FROM_STORE = {"from_store": True}


def _from_store(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("from_store"))


def _outcome_name(value: str, info: ValidationInfo) -> str:
    """A disconnection reason, or `error` (status error, error_* and unknown reasons)."""
    return value if _from_store(info) else check_outcome_name(value)


def _reason_name(value: str, info: ValidationInfo) -> str:
    """A disconnection reason as Retell reports it (`error` is not one: list the error_*
    reasons meant)."""
    if _from_store(info):
        return value
    if value == "error":
        raise ValueError("error is not a reason here; list the error_* reasons you mean")
    return check_outcome_name(value, DISCONNECTION_REASONS)


# `retry_on` and `breaker.failures`: reasons, or `error`
OutcomeName = Annotated[str, AfterValidator(_outcome_name)]
# `number_health.failures`: reasons as a from-number's calls ended
ReasonName = Annotated[str, AfterValidator(_reason_name)]


def _caller_id(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError('must be a quoted E.164 number like "+14155550100"')
    try:
        return normalize_number(value)
    except InvalidNumberError as exc:
        raise ValueError(f"{exc} (E.164 expected, like +14155550100)") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pacing(_Strict):
    """Two ceilings, never exceeded: new calls per second, and calls alive at once."""

    calls_per_second: float = Field(1.0, gt=0)
    max_concurrent_calls: int = Field(5, gt=0)


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(value: str) -> str:
    """`Mon`, `Tues`, `monday`, `THURSDAY` → `mon`, `tue`, …; anything else as written (and
    then refused, naming it)."""
    lowered = value.strip().lower()
    if len(lowered) >= 3 and any(name.startswith(lowered) for name in _DAY_NAMES):
        return lowered[:3]
    return lowered


class CallingHours(_Strict):
    """A daily window in the callee's local time. `end` before `start` crosses midnight."""

    start: ClockTime
    end: ClockTime
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    timezone: str = "auto"
    fallback_timezone: str | None = None

    @field_validator("days", mode="before")
    @classmethod
    def _lower_days(cls, value: object) -> object:
        if isinstance(value, list):
            return [_day(v) if isinstance(v, str) else v for v in value]
        return value

    @field_validator("timezone", "fallback_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None or value == "auto":
            return value
        if not is_known_zone(value):
            guess = closest(value, known_zones())
            hint = f"did you mean {guess}?" if guess else "use an IANA name like America/New_York"
            raise ValueError(f"unknown time zone {value!r}; {hint}")
        return value

    @model_validator(mode="after")
    def _window(self) -> CallingHours:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty")
        if not self.days:
            raise ValueError("days is empty: no day to call on")
        return self


class RetryRules(_Strict):
    """How many times a lead may be called and when again."""

    max_attempts: int = Field(3, ge=1, le=100)
    backoff: list[Duration] = Field(
        default_factory=lambda: [timedelta(minutes=30), timedelta(hours=2)], min_length=1
    )
    retry_on: list[OutcomeName] = Field(default_factory=lambda: list(DEFAULT_RETRY_ON))
    callback_delay: Duration | None = None

    @field_validator("callback_delay")
    @classmethod
    def _later(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if value is not None and value <= timedelta(0) and not _from_store(info):
            raise ValueError("a callback 0s after the call is no callback; give a wait like 2h")
        return value


class FailureBreaker(_Strict):
    """Pause the campaign when its recent calls fail at an abnormal rate: `max_failure_share`
    or more of the last `window` calls ended with one of `failures` (`error` covers status
    error, every error_* reason and reasons this version does not know)."""

    window: int = Field(40, ge=5, le=10_000)
    max_failure_share: float = Field(0.5, gt=0, le=1)
    failures: list[OutcomeName] = Field(
        default_factory=lambda: ["dial_failed", "invalid_destination", "error"], min_length=1
    )


class PreDialHook(_Strict):
    """Asked just before each dial (POST, JSON); fail closed (dialer.domain.predial)."""

    url: str
    timeout: Duration = Field(default_factory=lambda: timedelta(seconds=2))
    retry_after: Duration = Field(default_factory=lambda: timedelta(seconds=30))

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class NumberHealth(_Strict):
    """Retire a from-number for this campaign when `max_failure_share` or more of its last
    `window` calls ended with one of `failures` (one `marked_as_spam` retires it at once)."""

    window: int = Field(20, ge=3, le=10_000)
    max_failure_share: float = Field(0.6, gt=0, le=1)
    failures: list[ReasonName] = Field(
        default_factory=lambda: ["dial_failed", "user_declined"], min_length=1
    )


class VoicemailPolicy(_Strict):
    """Whether an attempt that reaches voicemail leaves a message (a static `message`, or a
    `prompt` the agent speaks from) or hangs up."""

    leave_message: Literal["last_attempt", "every_attempt", "never"] = "never"
    message: str | None = Field(None, min_length=1, max_length=2000)
    prompt: str | None = Field(None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _text(self) -> VoicemailPolicy:
        if self.leave_message != "never" and self.message is None and self.prompt is None:
            raise ValueError("set message (a static text) or prompt to leave a voicemail")
        if self.message is not None and self.prompt is not None:
            raise ValueError("set message or prompt, not both")
        return self


def _off_or_defaults(value: object) -> object:
    """`breaker: false` (or `number_health: false`) turns it off; `true` (or nothing) keeps
    the defaults."""
    if value is False:
        return None
    if value is True:
        return {}
    return value


class CampaignSettings(_Strict):
    """Everything a campaign file says but its leads: what the store keeps of a campaign."""

    name: str
    # A pool of caller IDs (dialer.inputs.campaign_file reads `from_numbers: FILE` into a list)
    from_numbers: list[str] = Field(default_factory=list)
    from_number: str | None = Field(None, validate_default=True)
    local_presence: bool = False  # a pool number with the lead's area code, else its state
    max_calls_per_number_per_day: int | None = Field(None, ge=1)  # per from-number, rolling
    number_health: Annotated[NumberHealth | None, BeforeValidator(_off_or_defaults)] = Field(
        default_factory=NumberHealth
    )
    voicemail: VoicemailPolicy | None = None
    agent_id: str | None = None
    default_region: str | None = None
    dynamic_variables: StringVariables = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    pacing: Pacing = Field(default_factory=Pacing)
    calling_hours: CallingHours | None = None
    retry: RetryRules = Field(default_factory=RetryRules)
    suppress: list[str] = Field(default_factory=list)
    max_attempts_per_number_per_day: int | None = Field(None, ge=1)
    min_recall_gap: Duration | None = None  # between two calls to one number, any campaign
    require_consent: bool = False  # skip leads without a consent_at on record
    pre_dial_hook: PreDialHook | None = None
    # US state calling rules (dialer/data/state_rules.yaml): on, off, or on with rows overridden
    state_rules: bool | dict[str, StateRuleRow] = True
    skip_dates: list[date] = Field(default_factory=list)  # no calls on these local dates
    skip_federal_holidays: bool = False
    budget_usd: float | None = Field(None, gt=0)
    # The price of a minute of call the budget plans with until the campaign's own costs are
    # known (Retell reports them minutes after each call): voice engine, LLM and telephony
    # together, as Retell's public pay-as-you-go price puts them ($0.07 + up to $0.08).
    cost_per_minute: float = Field(DEFAULT_COST_PER_MINUTE, gt=0)
    # Skip a lead whose number another campaign of the store called within this period.
    dedupe_across_campaigns: Duration | None = None
    # A lead list with no leads is a mistake unless the file says it is meant (leads that
    # arrive another way later).
    allow_empty: bool = False
    # Premium-rate numbers (+1 900, a 976 exchange) and NANP service codes (N11) are refused
    # in lead lists unless this is set (dialer.phones.special_number_reason).
    allow_premium_numbers: bool = False
    breaker: Annotated[FailureBreaker | None, BeforeValidator(_off_or_defaults)] = Field(
        default_factory=FailureBreaker
    )
    # An experiment: each lead gets one variant (dialer.domain.variants.assign_variant)
    variants: list[Variant] = Field(default_factory=list)
    # What an experiment's report counts as success (dialer.domain.goal)
    goal: GoalSetting | None = None
    # Each lead's (and attempt's) result POSTed, signed (dialer.domain.results_push)
    results_webhook: ResultsWebhook | None = None
    # Outcome-routed steps (dialer.domain.routing), before the retry block's; named windows
    steps: list[Step] = Field(default_factory=list)
    windows: dict[str, LocalWindow] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                "use letters, digits, '.', '_' or '-' (at most 100), "
                "starting with a letter or digit"
            )
        return value

    @field_validator("from_number", mode="before")
    @classmethod
    def _from_number(cls, value: object, info: ValidationInfo) -> str | None:
        if value is None:
            if not info.data.get("from_numbers"):
                raise ValueError("required key is missing (or set from_numbers: a list or a file)")
            return None
        return _caller_id(value)

    @field_validator("from_numbers", mode="before")
    @classmethod
    def _from_numbers(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        numbers = [_caller_id(v) for v in value]
        if len(set(numbers)) != len(numbers):
            twice = next(n for n in numbers if numbers.count(n) > 1)
            raise ValueError(f"{twice} is listed twice")
        return numbers

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, value: list[Variant]) -> list[Variant]:
        names = [v.name for v in value]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            raise ValueError(f"variant {twice!r} is named twice")
        if len(value) == 1:
            raise ValueError("an experiment needs at least two variants")
        return value

    @property
    def has_caller_id_pool(self) -> bool:
        """More than one from-number: each lead gets one of them, and a worn-out number is
        retired rather than pausing the campaign."""
        return len(self.caller_ids) > 1

    @property
    def caller_ids(self) -> tuple[str, ...]:
        """Every from-number the campaign may dial from: `from_number` first, then the pool."""
        first = (self.from_number,) if self.from_number else ()
        return (*first, *(n for n in self.from_numbers if n != self.from_number))

    @field_validator("state_rules")
    @classmethod
    def _state_codes(cls, value: bool | dict[str, StateRuleRow]) -> bool | dict[str, StateRuleRow]:
        if isinstance(value, dict):
            unknown = [k for k in value if k not in us_state_codes()]
            if unknown:
                guess = closest(unknown[0], us_state_codes())
                hint = f"did you mean {guess}?" if guess else "two capital letters, like FL"
                raise ValueError(f"{unknown[0]!r} is not a US state code; {hint}")
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import phonenumbers

        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r} (two letters, like US or GB)")
        return region
