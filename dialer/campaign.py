"""Campaign files: the YAML a user writes, parsed into typed settings with located errors."""

from __future__ import annotations

import difflib
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from dialer.durations import format_duration, parse_duration
from dialer.phones import InvalidNumberError, normalize_number
from dialer.problems import InputError, Problem
from dialer.yamlsource import YamlSyntaxError, line_of, load_with_lines, read_text

Duration = Annotated[
    timedelta,
    BeforeValidator(lambda v: v if isinstance(v, timedelta) else parse_duration(v)),
    PlainSerializer(format_duration, return_type=str),
]
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
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def stringify_variable(value: object) -> str:
    """Retell's dynamic variables are strings; scalars are written the way YAML spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    kind = (
        "a mapping"
        if isinstance(value, dict)
        else "a list"
        if isinstance(value, list)
        else type(value).__name__
    )
    raise ValueError(f"must be a string, number or boolean, not {kind}")


def _string_variables(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of name: value")
    out: dict[str, str] = {}
    for key, item in value.items():
        try:
            out[str(key)] = stringify_variable(item)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return out


StringVariables = Annotated[dict[str, str], BeforeValidator(_string_variables)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pacing(_Strict):
    """Two ceilings, never exceeded: new calls per second, and calls alive at once."""

    calls_per_second: float = Field(1.0, gt=0)
    max_concurrent_calls: int = Field(5, gt=0)


class CallingHours(_Strict):
    """A daily window in the callee's local time. `end` before `start` crosses midnight."""

    start: time
    end: time
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    timezone: str = "auto"
    fallback_timezone: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        if isinstance(value, int):  # YAML 1.1 reads 09:00 unquoted as a sexagesimal int
            hours, minutes = divmod(value, 60)
            return time(hours % 24, minutes)
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _lower_days(cls, value: object) -> object:
        if isinstance(value, list):
            return [str(v).lower()[:3] if isinstance(v, str) else v for v in value]
        return value

    @field_validator("timezone", "fallback_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None or value == "auto":
            return value
        from dialer.hours import is_known_zone

        if not is_known_zone(value):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like America/New_York)"
            )
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
    retry_on: list[str] = Field(default_factory=lambda: list(DEFAULT_RETRY_ON))
    callback_delay: Duration | None = None


class Campaign(_Strict):
    """A campaign file, validated. `leads` is a path (relative to the file) or an inline list."""

    name: str
    from_number: str
    agent_id: str | None = None
    leads: str | list[dict[str, Any]]
    default_region: str | None = None
    dynamic_variables: StringVariables = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    pacing: Pacing = Field(default_factory=Pacing)
    calling_hours: CallingHours | None = None
    retry: RetryRules = Field(default_factory=RetryRules)
    suppress: list[str] = Field(default_factory=list)
    max_attempts_per_number_per_day: int | None = Field(None, ge=1)

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
    def _from_number(cls, value: object) -> str:
        if not isinstance(value, str):
            raise ValueError('must be a quoted E.164 number like "+14155550100"')
        try:
            return normalize_number(value)
        except InvalidNumberError as exc:
            raise ValueError(f"{exc} (E.164 expected, like +14155550100)") from None

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


class LoadedCampaign(BaseModel):
    """A campaign together with where it came from (for locating lead-file problems)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    campaign: Campaign
    path: Path
    lines: dict[tuple[str | int, ...], int]

    @property
    def leads_path(self) -> Path | None:
        if isinstance(self.campaign.leads, str):
            return (self.path.parent / self.campaign.leads).resolve()
        return None


def _known_fields(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The field names allowed at `loc` (the parent of an unknown key)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        current = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(choices)})"


def _problems_from(
    exc: ValidationError, path: Path, lines: dict[tuple[str | int, ...], int]
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        # pydantic names the branch of a union (`str`, `list[...]`) in the location; drop it
        loc = tuple(
            p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"str", "list"}))
        )
        field = ".".join(str(p) for p in loc)
        if error["type"] == "extra_forbidden":
            known = _known_fields(Campaign, loc[:-1])
            message = f"unknown key{did_you_mean(str(loc[-1]), known)}"
        elif error["type"] == "missing":
            message = "required key is missing"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(Problem(path, line_of(lines, loc), field, message))
    # one message per location is enough (a union can fail once per branch)
    seen: set[tuple[int, str]] = set()
    unique = []
    for p in problems:
        if (p.line, p.field) not in seen:
            seen.add((p.line, p.field))
            unique.append(p)
    return unique


def load_campaign(path: Path) -> LoadedCampaign:
    """Read and check a campaign file (not its leads). Raises InputError listing every problem."""
    path = Path(path)
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise InputError([Problem(path, 0, "", "campaign file not found")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Problem(path, 0, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise InputError([Problem(path, 0, "", f"cannot read: {exc.strerror}")]) from None
    try:
        data, lines = load_with_lines(text)
    except YamlSyntaxError as exc:
        raise InputError([Problem(path, exc.line, "", f"malformed YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise InputError(
            [
                Problem(
                    path,
                    1,
                    "",
                    "a campaign file is a YAML mapping (name:, from_number:, leads:, …)",
                )
            ]
        )
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        raise InputError(_problems_from(exc, path, lines)) from None
    return LoadedCampaign(campaign=campaign, path=path.resolve(), lines=lines)
