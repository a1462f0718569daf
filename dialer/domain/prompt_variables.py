"""The `{{variables}}` of an agent's prompts against a lead list: which a prompt uses, which
Retell provides, which the agent sets during the call, and how many leads lack each one."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialer.domain.preflight import Finding, Status

# `{{ name }}`: Retell trims the spaces. Names as Retell's own (letters, digits, `_`), plus the
# `/`, `+`, `-` of a zone in `{{current_time_America/New_York}}`; anything else between double
# braces (a JSON example in a prompt) is not a variable.
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w./+:-]*)\s*\}\}")

# Variables Retell fills itself on every call ("Default System Variables",
# https://docs.retellai.com/build/dynamic-variables): never a lead list's job.
RETELL_VARIABLES = frozenset(
    {
        "current_agent_state",
        "previous_agent_state",
        "current_time",
        "current_calendar",
        "session_type",
        "session_duration",
        "direction",
        "user_number",
        "agent_number",
        "call_id",
    }
)
_RETELL_PREFIXES = ("current_time_", "current_calendar_")  # + an IANA zone
# Keys whose strings are values, not text Retell fills in.
_NOT_TEXT = frozenset({"default_dynamic_variables"})


def provided_by_retell(name: str) -> bool:
    return name in RETELL_VARIABLES or name.startswith(_RETELL_PREFIXES)


def placeholders(document: Any, where: str) -> dict[str, str]:
    """Every `{{variable}}` in the strings of `document` (a JSON value: an LLM, a flow, an
    agent), each with where it is first used, like `llm states[greeting].state_prompt`."""
    found: dict[str, str] = {}
    for path, text in _strings(document, ()):
        for match in _PLACEHOLDER.finditer(text):
            found.setdefault(match.group(1), f"{where} {_dotted(path)}".rstrip())
    return found


def _strings(value: Any, path: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in _NOT_TEXT:
                yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, f"[{_label(item, index)}]"))


def _label(item: Any, index: int) -> str:
    """A state or node by its id or name (stable, and what the user sees in Retell's editor)."""
    if isinstance(item, Mapping):
        for key in ("id", "name"):
            if isinstance(item.get(key), str) and item[key]:
                return str(item[key])
    return str(index)


def _dotted(path: tuple[str, ...]) -> str:
    return "".join(p if p.startswith("[") else f".{p}" for p in path).lstrip(".")


def set_during_call(document: Any) -> frozenset[str]:
    """Variables the agent sets itself while the call runs: a tool's `response_variables`, and
    the `variables` an extract-dynamic-variables node or tool pulls from the conversation."""
    names: set[str] = set()
    if isinstance(document, Mapping):
        response = document.get("response_variables")
        if isinstance(response, Mapping):
            names.update(str(k) for k in response)
        if str(document.get("type", "")).startswith("extract_dynamic_variable"):
            for item in document.get("variables") or []:
                if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                    names.add(item["name"])
        for item in document.values():
            names |= set_during_call(item)
    elif isinstance(document, list):
        for item in document:
            names |= set_during_call(item)
    return frozenset(names)


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


@dataclass
class VariableTally:
    """How many leads carry each of `names` with a value, streamed one lead at a time (a
    million-row list never sits in memory). A lead's variables already hold the campaign's
    `dynamic_variables` defaults."""

    names: frozenset[str]
    rows: int = 0
    filled: Counter[str] = field(default_factory=Counter)
    blank: Counter[str] = field(default_factory=Counter)  # present, but empty or spaces
    first_lacking: dict[str, int] = field(default_factory=dict)  # line of the first such lead
    carried: set[str] = field(default_factory=set)  # every variable name some lead carries

    def add(self, variables: Mapping[str, str], line: int) -> None:
        self.rows += 1
        self.carried.update(variables)
        for name in self.names:
            value = variables.get(name)
            if not _blank(value):
                self.filled[name] += 1
                continue
            if value is not None:
                self.blank[name] += 1
            self.first_lacking.setdefault(name, line)

    def absent(self, name: str) -> int:
        return self.rows - self.filled[name] - self.blank[name]


@dataclass(frozen=True)
class PromptUse:
    """What one agent's prompts need: each variable and where it is first used, the ones the
    agent sets itself during the call, and its response engine's defaults."""

    used: Mapping[str, str]
    set_in_call: frozenset[str] = frozenset()
    agent_defaults: Mapping[str, str] = field(default_factory=dict)


def variable_findings(
    use: PromptUse,
    tally: VariableTally,
    leads_file: str,
    *,
    hook_may_supply: bool = False,
    suffix: str = "",
) -> list[Finding]:
    """One finding per variable the prompts use: provided by Retell or the agent, set in every
    lead, missing in some leads (a warning: those calls say `{{name}}` as written), or in all of
    them (a failure). Retell's default for a variable applies only when the call does not send
    it at all: an empty cell is sent empty, so it still counts as missing."""
    findings = []
    for name in sorted(use.used):
        subject = f"{{{{{name}}}}}{suffix}"
        if provided_by_retell(name):
            findings.append(Finding(Status.OK, subject, "provided by Retell on every call"))
            continue
        if name in use.set_in_call:
            findings.append(Finding(Status.OK, subject, "set by the agent during the call"))
            continue
        findings.append(
            _lead_variable(name, subject, use, tally, leads_file, hook_may_supply=hook_may_supply)
        )
    return findings


def _lead_variable(
    name: str,
    subject: str,
    use: PromptUse,
    tally: VariableTally,
    leads_file: str,
    *,
    hook_may_supply: bool,
) -> Finding:
    rows = tally.rows
    default = use.agent_defaults.get(name)
    has_default = not _blank(default)
    lacking = tally.blank[name] + (0 if has_default else tally.absent(name))
    where = f"used in {use.used[name]}"
    if rows == 0:
        return Finding(Status.WARN, subject, f"{where}; the lead list has no leads")
    if lacking == 0:
        if has_default and tally.absent(name):
            return Finding(
                Status.OK,
                subject,
                f"the agent's default {default!r} in {tally.absent(name)} of {rows} leads, "
                f"the list's value in the others",
            )
        return Finding(Status.OK, subject, f"set in all {rows} leads")
    first = tally.first_lacking.get(name)
    at = f" (the first at {leads_file}:{first})" if first else ""
    if lacking < rows:
        note = (
            "; an empty cell is sent empty, so the agent's default does not apply"
            if has_default
            else ""
        )
        return Finding(
            Status.WARN,
            subject,
            f"no value in {lacking} of {rows} leads{at}: Retell leaves {{{{{name}}}}} in the "
            f"prompt as written in those calls{note}",
        )
    hint = _did_you_mean(name, tally.carried)
    fix = (
        f"add a column {name!r} to the lead list or `dynamic_variables: {{{name}: …}}` to "
        "the campaign"
    )
    if hook_may_supply:
        return Finding(
            Status.WARN,
            subject,
            f"{where}; no lead has a value: the pre-dial hook must supply it, else {fix}{hint}",
        )
    return Finding(Status.FAIL, subject, f"{where}; no lead has a value: {fix}{hint}")


def _did_you_mean(name: str, carried: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(carried), n=1, cutoff=0.7)
    return f" (the list has {close[0]!r}: a typo?)" if close else ""


# Variables the list carries for dialer's own rules, not for the prompt.
_RULE_VARIABLES = frozenset({"state"})


def unused_variables_finding(uses: Sequence[PromptUse], tally: VariableTally) -> Finding | None:
    """The variables the leads carry that no prompt uses (often a renamed column)."""
    used = set().union(*(u.used for u in uses)) if uses else set()
    unused = sorted(tally.carried - used - _RULE_VARIABLES)
    if not unused or not uses:
        return None
    return Finding(
        Status.WARN,
        "variables",
        f"not used by the agent's prompts: {', '.join(unused)} (sent with every call anyway)",
    )
