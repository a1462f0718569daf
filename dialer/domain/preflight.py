"""What `dialer doctor` concludes from what Retell says, before the first dial: which
`{{variables}}` an agent's prompts use, how many leads leave each of them without a value, and
what is wrong with an agent or a from-number. Pure: the facts come in as plain values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # worth knowing; the campaign still runs as intended
    FAIL = "fail"  # calls would fail, or go out wrong: fix it before `dialer run`


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report: the thing checked and what was found."""

    status: Status
    subject: str
    message: str


def worst(findings: Iterable[Finding]) -> Status:
    statuses = {f.status for f in findings}
    for status in (Status.FAIL, Status.WARN):
        if status in statuses:
            return status
    return Status.OK


# -- variables --------------------------------------------------------------------------------

# -- agents and numbers -----------------------------------------------------------------------


@dataclass(frozen=True)
class AgentBinding:
    """An agent that dials: the campaign's `agent_id`, or one a from-number binds."""

    agent_id: str
    version: int | str | None = None

    def describe(self) -> str:
        return self.agent_id if self.version is None else f"{self.agent_id} v{self.version}"


@dataclass(frozen=True)
class NumberFacts:
    """A from-number as Retell describes it; `found` False when Retell does not know it."""

    number: str
    found: bool
    number_type: str | None = None
    outbound_agents: tuple[AgentBinding, ...] = ()
    allowed_countries: tuple[str, ...] = ()


def number_finding(facts: NumberFacts, campaign_agent_id: str | None) -> Finding:
    subject = f"from {facts.number}"
    if not facts.found:
        return Finding(
            Status.FAIL,
            subject,
            "not a number of this workspace: buy it at Retell or import it (your telephony), "
            "or remove it from the campaign",
        )
    kind = facts.number_type or "number"
    countries = (
        f"; outbound calls allowed to {', '.join(facts.allowed_countries)} only"
        if facts.allowed_countries
        else ""
    )
    bound = ", ".join(b.describe() for b in facts.outbound_agents)
    if campaign_agent_id is not None:
        binding = f"outbound agent {bound}, " if bound else "no outbound agent bound, "
        return Finding(
            Status.OK,
            subject,
            f"{kind}, {binding}the campaign's agent_id {campaign_agent_id} dials{countries}",
        )
    if not bound:
        return Finding(
            Status.FAIL,
            subject,
            "no outbound agent is bound to it and the campaign sets no agent_id: bind an "
            "outbound agent at Retell, or set agent_id in the campaign",
        )
    return Finding(Status.OK, subject, f"{kind}, outbound agent {bound}{countries}")


def agents_to_check(
    campaign_agent_id: str | None, numbers: Sequence[NumberFacts]
) -> tuple[AgentBinding, ...]:
    """The agents that will talk to the leads: the campaign's `agent_id` (sent as
    override_agent_id), else every outbound agent the campaign's from-numbers bind."""
    if campaign_agent_id is not None:
        return (AgentBinding(campaign_agent_id),)
    seen: dict[AgentBinding, None] = {}
    for number in numbers:
        for binding in number.outbound_agents:
            seen.setdefault(binding)
    return tuple(seen)


NO_AGENT = Finding(
    Status.FAIL,
    "agent",
    "no agent would answer: set agent_id in the campaign, or bind an outbound agent to a "
    "from-number at Retell",
)


@dataclass(frozen=True)
class AgentFacts:
    """An agent as get-agent describes it."""

    agent_id: str
    name: str | None = None
    version: int | None = None
    is_published: bool | None = None
    engine_type: str | None = None  # retell-llm | conversation-flow | custom-llm
    engine_id: str | None = None  # llm_id, conversation_flow_id or the custom LLM's URL
    voicemail_action: str | None = None  # hangup | static_text | prompt | …; None: detection off
    analysis_fields: tuple[str, ...] = ()  # custom post-call analysis (not the presets)


_VOICEMAIL = {
    "hangup": "hangs up",
    "static_text": "leaves a fixed message",
    "prompt": "leaves a message written from a prompt",
    "bridge_transfer": "transfers the call",
}
ENGINES_WITH_PROMPTS = frozenset({"retell-llm", "conversation-flow"})


def agent_findings(facts: AgentFacts, *, campaign_voicemail: bool) -> list[Finding]:
    """The agent itself, its voicemail handling and its post-call analysis."""
    subject = f"agent {facts.agent_id}"
    named = f"{facts.name!r}, " if facts.name else ""
    version = f"version {facts.version}" if facts.version is not None else "version unknown"
    engine = f"{facts.engine_type} {facts.engine_id}" if facts.engine_type else "no response engine"
    findings = []
    if facts.is_published is False:
        findings.append(
            Finding(
                Status.WARN,
                subject,
                f"{named}{version} is a draft (not published); {engine}",
            )
        )
    else:
        published = ", published" if facts.is_published else ""
        findings.append(Finding(Status.OK, subject, f"{named}{version}{published}; {engine}"))
    if facts.engine_type == "custom-llm":
        findings.append(
            Finding(
                Status.WARN,
                subject,
                "a custom LLM writes its prompts on your server: its {{variables}} are not "
                "checked here",
            )
        )
    elif facts.engine_type is None:
        findings.append(Finding(Status.FAIL, subject, "it has no response engine: it cannot talk"))
    elif facts.engine_type not in ENGINES_WITH_PROMPTS:
        findings.append(
            Finding(
                Status.WARN,
                subject,
                f"response engine {facts.engine_type!r} is new to dialer: its {{{{variables}}}} "
                "are not checked",
            )
        )
    findings.append(_voicemail_finding(facts, campaign_voicemail))
    findings.append(_analysis_finding(facts))
    return findings


def _voicemail_finding(facts: AgentFacts, campaign_voicemail: bool) -> Finding:
    subject = f"agent {facts.agent_id}"
    if campaign_voicemail:
        return Finding(
            Status.OK,
            subject,
            "voicemail: the campaign's `voicemail:` settings apply to every call",
        )
    if facts.voicemail_action is None:
        return Finding(
            Status.WARN,
            subject,
            "voicemail detection is off: a call that reaches voicemail talks to the machine; "
            "set the agent's voicemail option at Retell, or `voicemail:` in the campaign",
        )
    action = _VOICEMAIL.get(facts.voicemail_action, f"does {facts.voicemail_action!r}")
    return Finding(Status.OK, subject, f"voicemail: detected, and the agent {action}")


def _analysis_finding(facts: AgentFacts) -> Finding:
    subject = f"agent {facts.agent_id}"
    if not facts.analysis_fields:
        return Finding(
            Status.WARN,
            subject,
            "no custom post-call analysis fields: the export's analysis.* columns will be empty",
        )
    return Finding(
        Status.OK, subject, f"post-call analysis extracts {', '.join(facts.analysis_fields)}"
    )


def analysis_fields(items: Iterable[Any]) -> tuple[str, ...]:
    """The names of an agent's custom post-call analysis fields (Retell's presets aside)."""
    return tuple(
        str(item["name"])
        for item in items
        if isinstance(item, Mapping)
        and item.get("type") != "system-presets"
        and isinstance(item.get("name"), str)
    )


def summary(findings: Sequence[Finding]) -> str:
    counts = Counter(f.status for f in findings)
    warnings = f", {counts[Status.WARN]} warning(s)" if counts[Status.WARN] else ""
    if counts[Status.FAIL]:
        return (
            f"{counts[Status.FAIL]} of {len(findings)} checks failed{warnings}: fix them "
            "before `dialer run`"
        )
    return f"all {len(findings)} checks passed{warnings}"
