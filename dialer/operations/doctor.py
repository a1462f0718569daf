"""`dialer doctor CAMPAIGN.yaml`: the campaign checked against the Retell account before the
first dial, the way Retell will see it — the key, each from-number, the agents that will talk
(the campaign's `agent_id`, else those the numbers bind) and every `{{variable}}` their prompts
use against the lead list. Only reads: nothing is stored, nothing is dialed.

The conclusions are drawn in `dialer.domain.preflight`; this module asks Retell and streams the
lead list (`dialer.inputs.leads.iter_leads`: a million rows never sit in memory).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from dialer.domain.exit_codes import ExitCode
from dialer.domain.preflight import (
    ENGINES_WITH_PROMPTS,
    NO_AGENT,
    AgentBinding,
    AgentFacts,
    Finding,
    NumberFacts,
    Status,
    agent_findings,
    agents_to_check,
    analysis_fields,
    number_finding,
    worst,
)
from dialer.domain.prompt_variables import (
    PromptUse,
    VariableTally,
    placeholders,
    set_during_call,
    unused_variables_finding,
    variable_findings,
)
from dialer.inputs.campaign_file import CampaignSource
from dialer.inputs.leads import LeadScan, iter_leads
from dialer.retell.client import RetellClient
from dialer.retell.errors import RetellBodyError, RetellStatusError, RetellTransportError
from dialer.retell.models import Agent, ResponseEngine
from dialer.retell.settings import RetellSettings

T = TypeVar("T")
Emit = Callable[[Finding], None]
_REFUSED = frozenset({401, 402, 403})


class _Missing(Enum):
    NOT_FOUND = "not found"  # Retell answered 404


NOT_FOUND = _Missing.NOT_FOUND


class _KeyRefusedError(Exception):
    """Retell refused the key or the account: every later check would say the same."""


class _NoRetellHereError(Exception):
    """Neither get-api-key-info nor get-concurrency exists at the base URL: it is not Retell's
    API (a path too many, a proxy that routes elsewhere); every later check would fail alike."""


@dataclass
class DoctorOutcome:
    """Every finding, the exit code, and one line for stderr when the doctor stopped early."""

    findings: list[Finding] = field(default_factory=list)
    exit_code: ExitCode = ExitCode.OK
    message: str | None = None


async def run_doctor(source: CampaignSource, retell: RetellSettings, emit: Emit) -> DoctorOutcome:
    """Check `source` against the account `retell` names; `emit` is told each finding as it is
    made (a long lead list is read last)."""
    try:
        client = RetellClient(
            retell.api_key, retell.base_url, read_attempts=2, log_reachability=False
        )
    except httpx.InvalidURL as exc:
        return DoctorOutcome(
            exit_code=ExitCode.INVALID,
            message=f"RETELL_BASE_URL {retell.base_url!r} is not a URL: {exc}",
        )
    async with client:
        return await _Doctor(source, client, emit).run()


class _Doctor:
    def __init__(self, source: CampaignSource, client: RetellClient, emit: Emit) -> None:
        self.source = source
        self.campaign = source.campaign
        self.client = client
        self.emit = emit
        self.outcome = DoctorOutcome()

    def note(self, finding: Finding) -> None:
        self.outcome.findings.append(finding)
        self.emit(finding)

    async def run(self) -> DoctorOutcome:
        try:
            uses = await self._account()
        except RetellTransportError as exc:
            self.outcome.exit_code = ExitCode.RUNTIME
            self.outcome.message = f"cannot reach Retell at {self.client.base_url}: {exc}"
            return self.outcome
        except _NoRetellHereError:
            self.outcome.exit_code = ExitCode.RUNTIME
            self.outcome.message = (
                f"no Retell API at {self.client.base_url} (404 to get-api-key-info and "
                "get-concurrency): is RETELL_BASE_URL right? Retell's is "
                "https://api.retellai.com, with no path"
            )
            return self.outcome
        except _KeyRefusedError:
            self.outcome.exit_code = ExitCode.ACCOUNT
            self.outcome.message = (
                "Retell refused the key or the account: fix RETELL_API_KEY (or the account) "
                "and run doctor again"
            )
            return self.outcome
        valid = self._leads(uses)
        if not valid:
            self.outcome.exit_code = ExitCode.INVALID
        elif worst(self.outcome.findings) is Status.FAIL:
            self.outcome.exit_code = ExitCode.RUNTIME
        return self.outcome

    # -- Retell -----------------------------------------------------------------------------

    async def _read(self, subject: str, read: Awaitable[T]) -> T | _Missing | None:
        """Retell's answer; NOT_FOUND on a 404; None (after noting why) on another failure.
        A refused key or account (401/402/403) stops the doctor."""
        try:
            return await read
        except RetellStatusError as exc:
            if exc.status in _REFUSED:
                self.note(Finding(Status.FAIL, subject, f"Retell refused: {exc}"))
                raise _KeyRefusedError from None
            if exc.status == 404:
                return NOT_FOUND
            self.note(Finding(Status.FAIL, subject, str(exc)))
        except RetellBodyError as exc:
            self.note(Finding(Status.FAIL, subject, f"an answer not in Retell's shape: {exc}"))
        return None

    async def _account(self) -> list[tuple[AgentBinding, PromptUse]]:
        await self._key()
        numbers = [facts for n in self.campaign.caller_ids if (facts := await self._number(n))]
        bindings = agents_to_check(self.campaign.agent_id, numbers)
        if not bindings and any(n.found for n in numbers):
            self.note(NO_AGENT)
        uses = []
        for binding in bindings:
            use = await self._agent(binding)
            if use is not None:
                uses.append((binding, use))
        return uses

    async def _key(self) -> None:
        info = await self._read("key", self.client.get_api_key_info())
        if (
            info is NOT_FOUND
            and await self._read("key", self.client.get_concurrency()) is NOT_FOUND
        ):
            raise _NoRetellHereError
        if info is NOT_FOUND:
            self.note(
                Finding(
                    Status.WARN,
                    "key",
                    "this Retell does not answer get-api-key-info; the reads below check the key",
                )
            )
        elif info is not None:
            workspace = info.org_name or info.org_id or "a workspace"
            named = f" (key {info.api_key_name!r})" if info.api_key_name else ""
            self.note(Finding(Status.OK, "key", f"accepted by {workspace!r}{named}"))

    async def _number(self, number: str) -> NumberFacts | None:
        found = await self._read(f"from {number}", self.client.get_phone_number(number))
        if found is None:
            return None
        if found is NOT_FOUND:
            facts = NumberFacts(number, found=False)
        else:
            facts = NumberFacts(
                number,
                found=True,
                number_type=found.phone_number_type,
                outbound_agents=tuple(
                    AgentBinding(b.agent_id, b.agent_version) for b in found.outbound
                ),
                allowed_countries=tuple(found.allowed_outbound_country_list or ()),
            )
        self.note(number_finding(facts, self.campaign.agent_id))
        return facts

    async def _agent(self, binding: AgentBinding) -> PromptUse | None:
        subject = f"agent {binding.describe()}"
        agent = await self._read(subject, self.client.get_agent(binding.agent_id, binding.version))
        if agent is NOT_FOUND:
            where = (
                "the campaign's agent_id" if self.campaign.agent_id else "a from-number binds it"
            )
            self.note(Finding(Status.FAIL, subject, f"no such agent in this workspace ({where})"))
            return None
        if agent is None:
            return None
        engine = agent.response_engine
        facts = AgentFacts(
            agent_id=agent.agent_id,
            name=agent.agent_name,
            version=agent.version,
            is_published=agent.is_published,
            engine_type=engine.type if engine else None,
            engine_id=engine.engine_id if engine else None,
            voicemail_action=agent.voicemail_action,
            analysis_fields=analysis_fields(agent.post_call_analysis_data or []),
        )
        for finding in agent_findings(
            facts, campaign_voicemail=self.campaign.voicemail is not None
        ):
            self.note(finding)
        return await self._prompt_use(subject, agent)

    async def _prompt_use(self, subject: str, agent: Agent) -> PromptUse | None:
        """The variables of the agent's prompts (its LLM or flow), of the agent itself (the
        voicemail text, the webhook URL, …) and of the campaign's voicemail override."""
        documents: list[tuple[str, Any]] = []
        defaults: dict[str, Any] = {}
        engine = agent.response_engine
        if engine is not None and engine.type in ENGINES_WITH_PROMPTS:
            found = await self._engine(subject, engine)
            if found is None:
                return None
            documents.append((engine.type, found))
            defaults = found.get("default_dynamic_variables") or {}
        own = agent.model_dump()
        voicemail = self.campaign.voicemail
        if voicemail is not None:
            own.pop("voicemail_option", None)  # the campaign's override replaces it on every call
            documents.append(("campaign voicemail", voicemail.model_dump()))
        documents.append(("agent", own))
        used: dict[str, str] = {}
        for where, document in documents:
            for name, first in placeholders(document, where).items():
                used.setdefault(name, first)
        return PromptUse(
            used=used,
            set_in_call=frozenset().union(*(set_during_call(d) for _, d in documents)),
            agent_defaults={str(k): str(v) for k, v in defaults.items() if v is not None},
        )

    async def _engine(self, subject: str, engine: ResponseEngine) -> dict[str, Any] | None:
        """The agent's Retell LLM or conversation flow, as JSON; None (noted) when unreadable."""
        read: Awaitable[BaseModel]
        if engine.type == "retell-llm" and engine.llm_id:
            what = f"Retell LLM {engine.llm_id}"
            read = self.client.get_retell_llm(engine.llm_id, engine.version)
        elif engine.type == "conversation-flow" and engine.conversation_flow_id:
            what = f"conversation flow {engine.conversation_flow_id}"
            read = self.client.get_conversation_flow(engine.conversation_flow_id, engine.version)
        else:
            self.note(Finding(Status.FAIL, subject, f"its {engine.type} response engine has no id"))
            return None
        found = await self._read(subject, read)
        if found is NOT_FOUND:
            self.note(Finding(Status.FAIL, subject, f"its {what} was not found"))
            return None
        return None if found is None else found.model_dump()

    # -- the lead list ----------------------------------------------------------------------

    def _leads(self, uses: list[tuple[AgentBinding, PromptUse]]) -> bool:
        """Stream the list once, counting the variables the prompts use; False when the list
        has problems (`dialer validate` shows them all)."""
        names = frozenset().union(*(use.used for _, use in uses))
        tally = VariableTally(names)
        scan = LeadScan()
        for lead in iter_leads(self.source, scan):
            tally.add(lead.dynamic_variables, lead.line)
        leads_file = (self.source.leads_path or self.source.path).name
        if scan.problem_count:
            self.note(
                Finding(
                    Status.FAIL,
                    "leads",
                    f"{scan.problem_count} problem(s), the first: {scan.problems[0]}; "
                    "`dialer validate` lists them all",
                )
            )
            return False
        self.note(Finding(Status.OK, "leads", f"{tally.rows} leads in {leads_file}"))
        several = len(uses) > 1
        hook = self.campaign.pre_dial_hook is not None
        for binding, use in uses:
            suffix = f" ({binding.describe()})" if several else ""
            for finding in variable_findings(
                use, tally, leads_file, hook_may_supply=hook, suffix=suffix
            ):
                self.note(finding)
        unused = unused_variables_finding([use for _, use in uses], tally)
        if unused is not None:
            self.note(unused)
        return True
