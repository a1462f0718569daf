"""A campaign's goal (`goal:` in its file): what a call must achieve to count as a success in
an experiment's report. One condition on a call's analysis, as Retell reports it:

    goal: call_successful                       # Retell's own judgement of the call
    goal: analysis.renewed == "yes"             # a key of the agent's post-call analysis
    goal: analysis.plan in [plus, premium]      # one of several values
    goal: user_sentiment == Positive

`analysis.<key>` is a key of `custom_analysis_data` (the export's `analysis.<key>` columns);
`call_successful`, `in_voicemail` and `user_sentiment` are Retell's own analysis fields. Values
compare as text, case-insensitively, a boolean as `true`/`false` (so `== yes` never matches a
boolean: write `== true`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

OWN_FIELDS = ("call_successful", "in_voicemail", "user_sentiment")
_FIELD = r"(?P<field>call_successful|in_voicemail|user_sentiment|analysis\.[A-Za-z0-9_][\w.-]*)"
_GOAL = re.compile(rf"\s*{_FIELD}\s*(?:(?P<op>==|\bin\b)\s*(?P<value>.+?))?\s*")
_QUOTED = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([^,"'\[\]]*?))\s*""")
# Retell's call_analysis.user_sentiment takes only these (as a goal or `when` compares them)
SENTIMENTS = ("negative", "positive", "neutral", "unknown")
_HELP = "write call_successful, analysis.KEY == VALUE or analysis.KEY in [A, B]"


@dataclass(frozen=True)
class Goal:
    """`field` is `call_successful` (…) or `analysis.<key>`; `values` the texts it may equal
    (empty: the field must be true)."""

    field: str
    op: Literal["true", "==", "in"]
    values: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The goal as a campaign file writes it (and the store keeps it)."""
        if self.op == "true":
            return self.field
        quoted = [f'"{v}"' for v in self.values]
        if self.op == "==":
            return f"{self.field} == {quoted[0]}"
        return f"{self.field} in [{', '.join(quoted)}]"

    def reached(self, analysis: Mapping[str, Any] | None) -> bool:
        """Whether a call with this analysis (Retell's call_analysis) reached the goal."""
        if not analysis:
            return False
        if self.field.startswith("analysis."):
            custom = analysis.get("custom_analysis_data")
            found = custom.get(self.field[9:]) if isinstance(custom, Mapping) else None
        else:
            found = analysis.get(self.field)
        if self.op == "true":
            return found is True or as_text(found) == "true"
        return found is not None and as_text(found) in self.values


def as_text(value: object) -> str:
    """How a goal compares a value: text, lower case, a boolean as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


def _values(raw: str) -> tuple[str, ...] | None:
    """`"yes"`, `yes`, `7` → one value; `[a, "b"]` → several; None when not readable."""
    raw = raw.strip()
    if not raw.startswith("["):
        single = raw[1:-1] if len(raw) > 1 and raw[0] == raw[-1] and raw[0] in "\"'" else raw
        return (as_text(single),) if single and single[0] not in "\"'" else None
    if not raw.endswith("]"):
        return None
    inner = raw[1:-1]
    parts = inner.split(",") if inner.strip() else []
    values = []
    for part in parts:
        found = _QUOTED.fullmatch(part)
        if found is None:
            return None
        text = next(g for g in found.groups() if g is not None)
        if not text and found.group(3) is not None:
            return None  # an empty bare value: `in [a, ]`
        values.append(as_text(text))
    if not values:
        return None
    return tuple(values)


def parse_goal(text: str, *, stored: bool = False) -> Goal:
    """A goal as the campaign file writes it; ValueError naming the text otherwise."""
    found = _GOAL.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a goal; {_HELP}")
    field, op, raw = found.group("field", "op", "value")
    if op is None:
        return Goal(field, "true")
    values = _values(raw)
    if values is None:
        raise ValueError(f"{text!r}: cannot read the value {raw.strip()!r}; {_HELP}")
    if op == "==" and raw.strip().startswith("["):
        raise ValueError(f"{text!r}: == takes one value; use in [A, B] for several")
    if field == "user_sentiment" and not stored:  # one stored before stays readable
        sentiment_problem(values)
    return Goal(field, "==" if op == "==" else "in", values)


def sentiment_problem(values: tuple[str, ...]) -> None:
    """ValueError naming a user_sentiment value Retell never gives (compared as lower text)."""
    for value in values:
        if value not in SENTIMENTS:
            raise ValueError(
                f"no call has user_sentiment {value!r}: Retell gives Negative, Positive, "
                "Neutral or Unknown"
            )


def unused_goal(goal: Goal | None, variant_count: int) -> str | None:
    """A warning when a goal is set but nothing reads it: only an experiment's report (a
    campaign with `variants:`) counts calls that reached it."""
    if goal is None or variant_count:
        return None
    return "goal: has no effect without variants (only an experiment's report counts it)"


def _goal(value: object, info: ValidationInfo) -> object:
    if isinstance(value, Goal):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} is not a goal; {_HELP}")
    return parse_goal(value, stored=bool(info.context and info.context.get("from_store")))


# The campaign settings' `goal`: written and stored as its text
GoalSetting = Annotated[
    Goal,
    BeforeValidator(_goal),
    PlainSerializer(lambda g: g.text, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "call_successful, analysis.KEY == VALUE or analysis.KEY in [A, B]",
            "examples": ['analysis.renewed == "yes"'],
        }
    ),
]
