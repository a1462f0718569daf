"""The pre-dial hook's answer, judged: a pure function of the status and the body. Fail
closed: anything but a well-formed 2xx `{"allow": true}` or `{"allow": false}` means the lead
is not dialed now, spends no attempt, and is asked about again later."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

HOOK_FAILED = "pre_dial_hook_failed"  # the wait reason of a lead whose hook did not answer


@dataclass(frozen=True)
class Allow:
    dynamic_variables: dict[str, str] = field(default_factory=dict)  # merged into the call's


@dataclass(frozen=True)
class Refuse:
    reason: str  # the lead ends skipped with it


@dataclass(frozen=True)
class Failed:
    why: str  # not dialed now; asked again later


HookVerdict = Allow | Refuse | Failed


def judge(status: int, body: bytes) -> HookVerdict:
    if not 200 <= status < 300:
        return Failed(f"the hook answered {status}")
    try:
        answer = json.loads(body)
    except ValueError:
        return Failed("the hook's answer is not JSON")
    if not isinstance(answer, dict) or not isinstance(answer.get("allow"), bool):
        return Failed('the hook\'s answer has no "allow": true or false')
    if not answer["allow"]:
        reason = answer.get("reason")
        text = reason if isinstance(reason, str) and reason.strip() else "no reason given"
        return Refuse(f"refused by the pre-dial hook: {text[:200]}")
    variables = answer.get("dynamic_variables") or {}
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        return Failed("the hook's dynamic_variables are not a mapping of strings")
    return Allow(variables)
