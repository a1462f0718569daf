"""How calls end and what their analysis says, per agent (and agent version): so that a test
or a demo can plant a real difference between an experiment's variants, or none (an A/A).

A profile file (`dialer simulator --profiles FILE`, or `AgentProfiles.from_config`) is JSON:

    {"agent_a":   {"analysis": {"renewed": 0.25}},
     "agent_b@7": {"analysis": {"renewed": 0.33, "plan": {"plus": 2, "premium": 1}},
                   "call_successful": 0.4,
                   "mix": {"user_hangup": 60, "dial_no_answer": 30, "voicemail_reached": 10},
                   "answer_by_hour": {"9": 0.3, "18": 0.7}}}

Keys are an agent id, or `agent_id@version` for one version of it (that wins). `analysis`
sets keys of `custom_analysis_data`: a number is the chance the key is true, a list a uniform
choice, an object a weighted choice. `call_successful` is the chance Retell judges the call
successful (else: as by default, from the reason and `renewed`). `mix` replaces the default
outcome mix; `answer_by_hour` is the chance anyone answers at the callee's local hour (else
`dial_no_answer`), hours not listed answering as the mix says. A call whose agent has no
profile ends as by default."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dialer.domain.reasons import check_outcome_name
from dialer.domain.timezones import zone
from dialer.phones import number_time_zones
from dialer.simulator.wire import from_json_file


@dataclass(frozen=True)
class AgentProfile:
    analysis: dict[str, Any] = field(default_factory=dict)
    call_successful: float | None = None
    mix: tuple[tuple[str, float], ...] | None = None
    answer_by_hour: dict[int, float] = field(default_factory=dict)

    def answers(self, rng: random.Random, answers: dict[str, Any]) -> dict[str, Any]:
        """The callee's answers, with this profile's keys drawn over the default ones."""
        drawn = dict(answers)
        for key, spec in self.analysis.items():
            if isinstance(spec, int | float):
                drawn[key] = rng.random() < spec
            elif isinstance(spec, list):
                drawn[key] = rng.choice(spec)
            else:
                drawn[key] = rng.choices(list(spec), [float(w) for w in spec.values()])[0]
        return drawn

    def successful(self, rng: random.Random) -> bool | None:
        return None if self.call_successful is None else rng.random() < self.call_successful

    def answered(self, rng: random.Random, to_number: str, at: datetime) -> bool:
        """Whether anyone picks up at the callee's local hour (true when hours are not set)."""
        if not self.answer_by_hour:
            return True
        zones = number_time_zones(to_number)
        hour = at.astimezone(zone(zones[0])).hour if zones else at.hour
        chance = self.answer_by_hour.get(hour)
        return chance is None or rng.random() < chance


def _chance(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{where}: {value!r} is not a chance between 0 and 1")
    return float(value)


def _profile(name: str, spec: object) -> AgentProfile:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{name}: a profile is an object (analysis, call_successful, …)")
    unknown = sorted(set(spec) - {"analysis", "call_successful", "mix", "answer_by_hour"})
    if unknown:
        raise ValueError(f"{name}: unknown key {unknown[0]!r}")
    analysis = spec.get("analysis", {})
    if not isinstance(analysis, Mapping):
        raise ValueError(f"{name}.analysis: an object of key: chance, list or weights")
    for key, value in analysis.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            _chance(f"{name}.analysis.{key}", value)
        elif not (isinstance(value, list) and value) and not (isinstance(value, Mapping) and value):
            raise ValueError(f"{name}.analysis.{key}: a chance, a list or an object of weights")
    mix = spec.get("mix")
    if mix is not None:
        if not isinstance(mix, Mapping) or not mix:
            raise ValueError(f"{name}.mix: an object of reason: weight")
        try:
            mix = tuple((check_outcome_name(r), float(w)) for r, w in mix.items())
        except ValueError as exc:
            raise ValueError(f"{name}.mix: {exc}") from None
    hours = spec.get("answer_by_hour", {})
    if not isinstance(hours, Mapping):
        raise ValueError(f"{name}.answer_by_hour: an object of hour: chance")
    by_hour = {}
    for hour, chance in hours.items():
        if not str(hour).isdigit() or not 0 <= int(hour) <= 23:
            raise ValueError(f"{name}.answer_by_hour: {hour!r} is not an hour 0-23")
        by_hour[int(hour)] = _chance(f"{name}.answer_by_hour.{hour}", chance)
    successful = spec.get("call_successful")
    return AgentProfile(
        dict(analysis),
        None if successful is None else _chance(f"{name}.call_successful", successful),
        mix,
        by_hour,
    )


@dataclass(frozen=True)
class AgentProfiles:
    by_agent: dict[str, AgentProfile] = field(default_factory=dict)

    def find(self, agent_id: str, version: object) -> AgentProfile | None:
        """The profile of this agent version, else of the agent, else None."""
        return self.by_agent.get(f"{agent_id}@{version}") or self.by_agent.get(agent_id)

    @classmethod
    def from_config(cls, config: object) -> AgentProfiles:
        """Profiles from `{agent or agent@version: profile}`; ValueError naming the problem."""
        if not isinstance(config, Mapping):
            raise ValueError("the profiles file is a JSON object of agent id: profile")
        return cls({str(k): _profile(str(k), v) for k, v in config.items()})

    @classmethod
    def from_file(cls, path: Path) -> AgentProfiles:
        """`from_config` of a JSON file; ValueError (naming the file) when it cannot be used."""
        return from_json_file(path, cls.from_config)
