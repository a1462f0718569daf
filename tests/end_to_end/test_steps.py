"""Steps end to end, on both stores, against the simulator: voicemail → an evening call with
another agent; the second no-answer → the alternate number; `analysis.interested == "yes"` →
complete (a hang-up without interest → skipped). Every lead ends as the steps say, each create
carries what its variant and its step said, and every placed attempt records its variant."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from dialer.dialing.clock import Clock
from dialer.dialing.options import RunOutcome
from dialer.domain.variants import Variant, assign_variant
from dialer.simulator import OutcomeRule, SimulatedRetell
from dialer.store import Store
from dialer.store.schema import attempts

from ..helpers import fast_options, lead_rows, numbers, run_in_process

pytestmark = pytest.mark.anyio

VARIANTS = [
    {"name": "A", "agent_id": "agent_a"},
    {
        "name": "B",
        "agent_id": "agent_b",
        "agent_version": 3,
        "dynamic_variables": {"opening": "short"},
    },
]
YES, NO = {"interested": "yes"}, {"interested": "no"}


def _campaign(
    tmp_path: Path, voicemail: str, unanswered: str, alternate: str, yes: str, no: str
) -> Path:
    (tmp_path / "leads.csv").write_text(
        "to_number,alt_number_1,first_name\n"
        f"{voicemail},,Vi\n{unanswered},{alternate},Una\n{yes},,Yas\n{no},,Nod\n"
    )
    config: dict[str, Any] = {
        "name": "steps",
        "from_number": "+14155550100",
        "agent_id": "agent_main",
        "leads": "leads.csv",
        "state_rules": False,
        "pacing": {"calls_per_second": 50, "max_concurrent_calls": 10},
        "retry": {
            "max_attempts": 3,
            "backoff": ["200ms"],
            "retry_on": ["dial_no_answer", "voicemail_reached"],
        },
        "variants": VARIANTS,
        "windows": {"evening": "17:00-19:30"},
        "steps": [
            {
                "when": {"outcome": "voicemail"},
                "then": {
                    "call": {
                        "at": "evening",
                        "agent_id": "agent_short",
                        "voicemail": {"message": "Hi, Acme here."},
                    }
                },
            },
            {
                "when": {"outcome": "no_answer", "attempt": 2},
                "then": {"call": {"after": "1s", "number": "next_alternate"}},
            },
            {"when": {"analysis.interested": "yes"}, "then": "complete"},
            {
                "when": {"reason": ["user_hangup", "agent_hangup"]},
                "then": {"skip": "not interested"},
            },
        ],
    }
    path = tmp_path / "steps.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_every_lead_ends_as_its_steps_say(store: Store, tmp_path: Path) -> None:
    voicemail, unanswered, alternate, yes, no = numbers(5, start=700)
    engine = SimulatedRetell(
        speed=200,
        seed=23,
        rules=[
            OutcomeRule(["voicemail_reached", "user_hangup"], number=voicemail, answers=YES),
            OutcomeRule(["dial_no_answer"], number=unanswered),
            OutcomeRule(["user_hangup"], number=alternate, answers=YES),
            OutcomeRule(["user_hangup"], number=yes, answers=YES),
            OutcomeRule(["user_hangup"], number=no, answers=NO),
        ],
    )
    path = _campaign(tmp_path, voicemail, unanswered, alternate, yes, no)
    # 16:59:57 in New York (the leads' zone): the evening window opens three seconds later
    options = fast_options(clock=Clock.from_iso("2026-12-07T21:59:57Z"), speed=50.0)
    assert (
        await run_in_process(store, engine, path, options, limit_seconds=20)
    ).outcome is RunOutcome.FINISHED

    calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in sorted(engine.records()["calls"], key=lambda c: c["created"]):
        calls[call["to_number"]].append(call)
    rows = {r["lead_key"]: r for r in await lead_rows(store)}
    ends = {key: (r["state"], r["attempts"], r["skip_reason"]) for key, r in rows.items()}
    assert ends == {
        voicemail: ("completed", 2, None),  # voicemail, then the evening call: interested
        unanswered: ("completed", 3, None),  # two no-answers, then the alternate: interested
        yes: ("completed", 1, None),
        no: ("skipped", 1, "not interested"),
    }
    assert all(r["next_plan"] is None for r in rows.values())  # a plan lives until its attempt
    assert [c["to_number"] for c in calls[unanswered] + calls[alternate]] == [unanswered] * 2 + [
        alternate
    ]
    assert rows[unanswered]["to_number"] == alternate

    variants = [Variant.model_validate(v) for v in VARIANTS]
    arm = {key: assign_variant("steps", key, variants) for key in rows}
    for key, lead_calls in [(voicemail, calls[voicemail][:1]), (yes, calls[yes]), (no, calls[no])]:
        variant = arm[key]
        assert variant is not None
        for call in lead_calls:  # the variant's agent, version and variables
            assert call["agent_id"] == variant.agent_id
            assert call["agent_version"] == (variant.agent_version or 1)
            assert call["variables"].get("opening") == variant.dynamic_variables.get("opening")
    evening = calls[voicemail][1]  # the step's agent over the variant's, its voicemail message
    assert (evening["agent_id"], evening["agent_version"]) == ("agent_short", 1)
    assert evening["agent_override"]["agent"]["voicemail_option"] == {
        "action": {"type": "static_text", "text": "Hi, Acme here."}
    }
    async with store.engine.connect() as conn:
        recorded = list(await conn.execute(select(attempts.c.to_number, attempts.c.variant)))
    by_lead = {
        voicemail: voicemail,
        yes: yes,
        no: no,
        unanswered: unanswered,
        alternate: unanswered,
    }
    assert len(recorded) == 7
    for to_number, variant_name in recorded:  # every placed attempt records its variant
        expected = arm[by_lead[to_number]]
        assert variant_name == (expected.name if expected else None)
