"""How simulated calls end: a realistic default mix, and scripts per number for tests."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from dialer.domain.calls import CallStatus
from dialer.domain.reasons import ENDS_UNCONNECTED


@dataclass(frozen=True)
class Outcome:
    """The fate of one call, in simulated seconds."""

    reason: str
    status: CallStatus
    ring_seconds: float
    talk_seconds: float

    @property
    def connected(self) -> bool:
        return self.status == CallStatus.ENDED and self.talk_seconds > 0

    @property
    def total_seconds(self) -> float:
        return self.ring_seconds + self.talk_seconds


def outcome_for(reason: str, rng: random.Random) -> Outcome:
    """A plausible timeline for a call that ends with `reason`."""
    if reason.startswith("error"):
        return Outcome(reason, CallStatus.ERROR, rng.uniform(1, 5), 0.0)
    if reason in ENDS_UNCONNECTED:
        ring = rng.uniform(20, 35) if reason == "dial_no_answer" else rng.uniform(1, 6)
        return Outcome(reason, CallStatus.NOT_CONNECTED, ring, 0.0)
    if reason in {"voicemail_reached", "machine_detected", "ivr_reached"}:
        return Outcome(reason, CallStatus.ENDED, rng.uniform(5, 15), rng.uniform(10, 30))
    return Outcome(reason, CallStatus.ENDED, rng.uniform(3, 12), rng.uniform(30, 240))


# Weights loosely modelled on outbound B2C campaigns. Only reasons Retell's current OpenAPI
# document lists (DisconnectionReason): user_requested_dnc and user_requested_callback, which
# dialer still honors, are produced when a test scripts them.
DEFAULT_MIX: tuple[tuple[str, float], ...] = (
    ("user_hangup", 40),
    ("agent_hangup", 17),
    ("dial_no_answer", 18),
    ("voicemail_reached", 10),
    ("dial_busy", 4),
    ("call_transfer", 4),
    ("inactivity", 2),
    ("max_duration_reached", 1),
    ("user_declined", 1),
    ("dial_failed", 1.5),
    ("error_unknown", 1),
    ("invalid_destination", 0.5),
)


@dataclass
class OutcomeRule:
    """Outcomes for numbers equal to `number` or ending with `suffix`: one per call to that
    number, in order (the last repeats). An outcome may also be `reject_400`/`reject_422`: the
    create itself is refused."""

    outcomes: list[str]
    number: str | None = None
    suffix: str | None = None
    # what the callee tells the agent (the analysis' custom_analysis_data), over random answers
    answers: dict[str, Any] = field(default_factory=dict)

    def matches(self, to_number: str) -> bool:
        if self.number is not None:
            return to_number == self.number
        return self.suffix is not None and to_number.endswith(self.suffix)


@dataclass
class OutcomeScript:
    """The rules, and how many calls each number has had (for sequences across attempts)."""

    rules: list[OutcomeRule] = field(default_factory=list)
    mix: tuple[tuple[str, float], ...] = DEFAULT_MIX
    calls_per_number: dict[str, int] = field(default_factory=dict)

    def scripted(self, to_number: str) -> bool:
        """Whether a rule speaks for this number."""
        return any(rule.matches(to_number) for rule in self.rules)

    def next_reason(
        self, to_number: str, rng: random.Random, mix: tuple[tuple[str, float], ...] | None = None
    ) -> str:
        """The reason for the next call to `to_number` (counts it): its rule's, else drawn
        from `mix` (default: the script's)."""
        index = self.calls_per_number.get(to_number, 0)
        self.calls_per_number[to_number] = index + 1
        for rule in self.rules:
            if rule.matches(to_number):
                return rule.outcomes[min(index, len(rule.outcomes) - 1)]
        reasons = [r for r, _ in mix or self.mix]
        weights = [w for _, w in mix or self.mix]
        return rng.choices(reasons, weights)[0]

    def answers_for(self, to_number: str) -> dict[str, Any]:
        """The scripted answers of the first rule for this number (none: random ones)."""
        return next((dict(r.answers) for r in self.rules if r.matches(to_number)), {})

    def peek_rejection(self, to_number: str) -> str | None:
        """`reject_400`/`reject_422` when the next create for this number must be refused."""
        index = self.calls_per_number.get(to_number, 0)
        for rule in self.rules:
            if rule.matches(to_number):
                outcome = rule.outcomes[min(index, len(rule.outcomes) - 1)]
                return outcome if outcome.startswith("reject_") else None
        return None
