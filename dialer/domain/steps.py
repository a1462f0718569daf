"""Steps: a campaign's ordered rules for what follows a call — each a `when` (conditions on the
last attempt) and a `then` (call again, complete, skip or a callback). The `retry` block is
shorthand that compiles to steps (`retry_steps`); dialer.domain.routing picks the first rule
that matches a call's end.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dialer.domain.durations import Duration, format_duration
from dialer.domain.goal import sentiment_problem
from dialer.domain.reasons import check_outcome_name
from dialer.domain.state_rules import ClockTime
from dialer.domain.variables import StringVariables

Family = Literal["connected", "no_answer", "busy", "voicemail", "failed", "error"]
FAMILIES: tuple[Family, ...] = ("connected", "no_answer", "busy", "voicemail", "failed", "error")
NEXT_DAY = "next_day"  # a callback on the lead's first calling window of the next local day
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _listed(value: object) -> object:
    """A scalar condition is a list of one."""
    if value is None or isinstance(value, list | tuple):
        return value
    return [value]


def canon(value: object) -> str:
    """How a condition's value and an analysis value compare: `yes`/`true`/True alike,
    case and surrounding blanks ignored."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    text = str(value).strip().lower()
    return {"yes": "true", "no": "false"}.get(text, text)


def _canon_values(value: object) -> object:
    listed = _listed(value)
    return [canon(v) for v in listed] if isinstance(listed, list | tuple) else listed


Values = Annotated[tuple[str, ...] | None, BeforeValidator(_canon_values)]


def _stored(info: ValidationInfo) -> bool:
    """Read back from the store: what was accepted when loaded stays readable."""
    return bool(info.context and info.context.get("from_store"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(_Strict):
    """Conditions on the last attempt; all must hold (none: every call's end matches)."""

    outcome: Annotated[tuple[Family, ...] | None, BeforeValidator(_listed)] = None
    reason: Annotated[tuple[str, ...] | None, BeforeValidator(_listed)] = None
    call_successful: bool | None = None
    in_voicemail: bool | None = None
    user_sentiment: Values = None
    analysis: dict[str, Values] = Field(default_factory=dict)  # custom analysis data
    attempt: Annotated[tuple[int, ...] | None, BeforeValidator(_listed)] = None
    number: Annotated[
        tuple[Literal["primary", "alternate"], ...] | None, BeforeValidator(_listed)
    ] = None
    variant: Annotated[tuple[str, ...] | None, BeforeValidator(_listed)] = None

    @model_validator(mode="before")
    @classmethod
    def _dotted_analysis(cls, data: object) -> object:
        """`analysis.interested: "yes"` is `analysis: {interested: "yes"}`."""
        if not isinstance(data, dict):
            return data
        dotted = {k: v for k, v in data.items() if isinstance(k, str) and k.startswith("analysis.")}
        if not dotted:
            return data
        rest = {k: v for k, v in data.items() if k not in dotted}
        merged = dict(rest.get("analysis") or {})
        merged.update({k.removeprefix("analysis."): v for k, v in dotted.items()})
        return {**rest, "analysis": merged}

    @field_validator("user_sentiment")
    @classmethod
    def _sentiments(
        cls, value: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        if value is not None and not _stored(info):
            sentiment_problem(value)
        return value

    @field_validator("analysis")
    @classmethod
    def _keys(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if not _stored(info) and any(not key.strip() for key in value):
            raise ValueError("an analysis condition needs a key (analysis.KEY)")
        return value

    @field_validator("reason")
    @classmethod
    def _reasons(cls, value: tuple[str, ...] | None, info: ValidationInfo) -> Any:
        if value is None or _stored(info):
            return value
        return tuple(check_outcome_name(v) for v in value)

    @property
    def reads_analysis(self) -> bool:
        """Whether this rule needs the call's analysis (Retell gives it after the end)."""
        return bool(
            self.analysis
            or self.call_successful is not None
            or self.in_voicemail is not None
            or self.user_sentiment is not None
        )

    def conditions(self) -> dict[str, Any]:
        """The conditions set, as the file would write them."""
        out = self.model_dump(exclude_none=True, exclude={"analysis"})
        out.update({f"analysis.{k}": v for k, v in self.analysis.items()})
        return out


class VoicemailOverride(_Strict):
    """What the next attempt does on reaching voicemail: leave `message` (static text) or
    speak from `prompt`, or hang up (neither)."""

    message: str | None = Field(None, min_length=1, max_length=2000)
    prompt: str | None = Field(None, min_length=1, max_length=2000)

    @model_validator(mode="before")
    @classmethod
    def _hangup(cls, data: object) -> object:
        return {} if data == "hangup" else data

    def option(self) -> dict[str, Any]:
        """`agent_override.agent.voicemail_option` of the create."""
        if self.prompt is not None:
            return {"action": {"type": "prompt", "text": self.prompt}}
        if self.message is not None:
            return {"action": {"type": "static_text", "text": self.message}}
        return {"action": {"type": "hangup"}}


class CallAgain(_Strict):
    """Call the lead again: `after` a wait (a list: one per next attempt, the last repeats),
    and/or `at` a named window of the file's `windows`, with what the next call uses."""

    after: Annotated[list[Duration], BeforeValidator(_listed)] = Field(
        default_factory=lambda: [timedelta(0)], min_length=1
    )
    at: str | None = None
    agent_id: str | None = None
    agent_version: int | None = Field(None, ge=0)
    dynamic_variables: StringVariables = Field(default_factory=dict)
    voicemail: VoicemailOverride | None = None
    number: Literal["current", "next_alternate"] = "current"

    @field_validator("agent_id")
    @classmethod
    def _an_agent(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not value.strip() and not _stored(info):
            raise ValueError("must not be empty (leave agent_id out to keep the campaign's)")
        return value

    def plan(self) -> dict[str, Any] | None:
        """What the next attempt uses instead of the campaign's (and variant's) settings:
        stored with the lead until that attempt (None: nothing of its own)."""
        plan: dict[str, Any] = {}
        if self.agent_id is not None:
            plan["agent_id"] = self.agent_id
        if self.agent_version is not None:
            plan["agent_version"] = self.agent_version
        if self.dynamic_variables:
            plan["dynamic_variables"] = dict(self.dynamic_variables)
        if self.voicemail is not None:
            plan["voicemail"] = self.voicemail.option()
        if self.at is not None:
            plan["window"] = self.at  # the dial itself waits for it (dialer.dialing.placer)
        return plan or None


class Then(_Strict):
    """What a matching rule does: exactly one of call, complete, skip (with a reason) or
    callback (after a wait, or `next_day`)."""

    call: CallAgain | None = None
    complete: bool = False
    skip: str | None = Field(None, min_length=1, max_length=200)
    callback: Duration | Literal["next_day"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _word(cls, data: object) -> object:
        if data in ("complete", "call"):
            return {"complete": True} if data == "complete" else {"call": {}}
        return data

    @field_validator("callback")
    @classmethod
    def _later(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, timedelta) and value <= timedelta(0) and not _stored(info):
            raise ValueError(
                f"a callback {format_duration(value)} after the call is no callback; "
                "give a wait (like 2h) or next_day"
            )
        return value

    @model_validator(mode="after")
    def _one(self) -> Then:
        chosen = [
            n
            for n, v in (
                ("call", self.call),
                ("complete", self.complete or None),
                ("skip", self.skip),
                ("callback", self.callback),
            )
            if v is not None
        ]
        if len(chosen) != 1:
            raise ValueError("say exactly one of call, complete, skip or callback")
        return self

    def describe(self) -> str:
        if self.complete:
            return "complete"
        if self.skip is not None:
            return f"skip ({self.skip})"
        if self.callback is not None:
            wait = self.callback
            return f"callback {wait if isinstance(wait, str) else format_duration(wait)}"
        assert self.call is not None
        call = self.call
        parts = ["call again after " + ", ".join(format_duration(d) for d in call.after)]
        if call.at:
            parts.append(f"in window {call.at}")
        if call.number != "current":
            parts.append("on the next alternate number")
        parts.extend(f"{k}={v}" for k, v in (call.plan() or {}).items() if k != "window")
        return " ".join(parts)


class Step(_Strict):
    when: When = Field(default_factory=When)
    then: Then


class LocalWindow(_Strict):
    """A named local time-of-day window (`evening: 17:00-19:30`, or start/end/days)."""

    start: ClockTime
    end: ClockTime
    days: list[Day] = Field(default_factory=lambda: list(_WEEKDAYS))

    @model_validator(mode="before")
    @classmethod
    def _span(cls, data: object) -> object:
        if isinstance(data, str):
            found = _SPAN.match(data)
            if not found:
                raise ValueError(f"{data!r} is not a window like 17:00-19:30")
            h1, m1, h2, m2 = (int(g) for g in found.groups())
            return {"start": time(h1, m1), "end": time(h2, m2)}
        if isinstance(data, dict) and isinstance(data.get("days"), list):
            return {**data, "days": [str(d).strip().lower()[:3] for d in data["days"]]}
        return data

    @model_validator(mode="after")
    def _not_empty(self) -> LocalWindow:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty")
        if not self.days:
            raise ValueError("days is empty: the window would never open")
        return self


def retry_steps(
    retry_on: list[str], backoff: list[timedelta], callback_delay: timedelta | None
) -> list[Step]:
    """The `retry` block as steps: a callback when asked for, another call on the `retry_on`
    reasons after the backoff."""
    return [
        Step(
            when=When(reason=("user_requested_callback",)),
            then=Then(callback=NEXT_DAY if callback_delay is None else callback_delay),
        ),
        Step(when=When(reason=tuple(retry_on)), then=Then(call=CallAgain(after=backoff))),
    ]
