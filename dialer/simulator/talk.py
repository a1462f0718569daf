"""What a simulated call's callee said, and what Retell makes of it: the call's analysis and
its cost (in cents, as Retell reports `call_cost`)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dialer.simulator.simulated import SimCall


# What callees tell a renewal agent; some notes begin with '-' or '+', as spoken words do.
NOTES = (
    "happy with the service",
    "-- not interested",
    "+1 call me back after five",
    "asked about the price",
    "",
)


CENTS_PER_SECOND = 0.1167  # about 7 cents a minute, as Retell's voice pricing


def callee_answers(rng: random.Random) -> dict[str, Any]:
    return {
        "renewed": rng.random() < 0.45,
        "plan": rng.choice(["basic", "plus", "premium"]),
        "callback_requested": rng.random() < 0.1,
        "notes": rng.choice(NOTES),
    }


def call_analysis(call: SimCall, reason: str) -> dict[str, Any]:
    return {
        "call_summary": f"Simulated call ended by {reason}.",
        "user_sentiment": sentiment(call.answers),
        "call_successful": call.successful
        if call.successful is not None
        else reason in {"agent_hangup", "call_transfer"} or call.answers["renewed"] is True,
        "in_voicemail": reason == "voicemail_reached",
        "custom_analysis_data": dict(call.answers),
    }


def sentiment(answers: dict[str, Any]) -> str:
    return "Positive" if answers.get("renewed") else "Neutral"


def call_cost(seconds: float) -> dict[str, Any]:
    """Retell's call_cost: amounts in cents."""
    cost = round(seconds * CENTS_PER_SECOND, 4)
    return {
        "product_costs": [
            {"product": "retell_platform", "unit_price": CENTS_PER_SECOND, "cost": cost}
        ],
        "total_duration_seconds": round(seconds),
        "total_duration_unit_price": CENTS_PER_SECOND,
        "combined_cost": cost,
    }
