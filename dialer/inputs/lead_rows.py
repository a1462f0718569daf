"""One lead as a list row gives it: its number made E.164 with its zones and states, its
variables, alternates and consent, every problem located (file, line, field) — whatever the
list's format (CSV, YAML, a request's body)."""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from dialer.domain.calling_rules import Place
from dialer.domain.campaign import CampaignSettings
from dialer.domain.state_rules import lead_states_key, state_code
from dialer.domain.timezones import NO_ZONE, canonical_zone, closest_zone, lead_zone_key
from dialer.inputs.intset import IntSet
from dialer.inputs.problems import Problem
from dialer.inputs.yamlsource import (
    MIB,
    YamlLimits,
)
from dialer.phones import (
    InvalidNumberError,
    number_facts,
    number_state,
    special_number_reason,
)

NUMBER_COLUMNS = ("to_number", "phone", "phone_number")


# `state` (the callee's address state) is read for state rules and stays a dynamic variable too,
# so a prompt that says {{state}} keeps working.
RESERVED_COLUMNS = frozenset({*NUMBER_COLUMNS, "lead_id", "timezone", "consent_at"})


YAML_LEAD_KEYS = [
    "to_number",
    "lead_id",
    "timezone",
    "state",
    "consent_at",
    "metadata",
    "retell_llm_dynamic_variables",
]


ALTERNATE_COLUMN = re.compile(r"alt_number_(\d+)", re.IGNORECASE)  # alt_number_1, alt_number_2…


MAX_REPORTED_PROBLEMS = 1000


MAX_LEAD_ID_CHARS = 200  # the store's lead_key column


# A YAML list is parsed whole, at some 250 KB/s and 100 MB of memory per MB (PyYAML keeps every
# node): about 40,000 leads. A larger list belongs in a CSV file, streamed and without a limit.
LEAD_LIST_LIMITS = YamlLimits(
    "YAML lead lists", max_bytes=4 * MIB, max_depth=32, max_values=1_000_000
)


@dataclass(frozen=True, slots=True)
class Alternate:
    """Another number of the same callee, with what the rules need to judge it."""

    to_number: str
    zones: str
    states: str

    def as_json(self) -> dict[str, str]:
        return {"to_number": self.to_number, "zones": self.zones, "states": self.states}


@dataclass(slots=True)
class Lead:
    """One row of a lead list, normalized; campaign defaults are already merged in."""

    key: str
    to_number: str
    timezone: str | None
    dynamic_variables: dict[str, str]
    metadata: dict[str, Any]
    line: int
    zones: str = NO_ZONE  # for calling hours: dialer.domain.timezones.lead_zone_key
    consent_at: datetime | None = None  # when the callee agreed to be called, if on record
    # for state rules: its address state and its area code's (dialer.domain.state_rules)
    states: str = ""
    # numbers to try, in order, once the primary's attempts are spent without reaching anyone
    alternates: list[Alternate] = field(default_factory=list)

    @property
    def place(self) -> Place:
        return Place(self.zones, self.states)


@dataclass
class LeadScan:
    """What reading a lead list found: counts and problems (the first 1000 of them)."""

    leads: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    # leads per place (zones and states), and the line of the first lead of each (at most a
    # few hundred places)
    places: Counter[Place] = field(default_factory=Counter)
    place_first_line: dict[Place, int] = field(default_factory=dict)

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)


class Dedup:
    """Numbers seen, as exact integers (an E.164 number fits in 50 bits), and 64-bit hashes of
    the lead_ids that differ from their number (most lists have none); 8 bytes each."""

    def __init__(self) -> None:
        self.numbers = IntSet()
        self.keys = IntSet()

    def check(self, lead: Lead, path: Path) -> Problem | None:
        if not self.numbers.add(int(lead.to_number[1:])):
            return Problem(
                path,
                lead.line,
                "to_number",
                f"duplicate number {lead.to_number} (an earlier row has it)",
            )
        for index, alternate in enumerate(lead.alternates, start=1):
            if not self.numbers.add(int(alternate.to_number[1:])):
                return Problem(
                    path,
                    lead.line,
                    f"alt_number_{index}",
                    f"duplicate number {alternate.to_number} (this or an earlier row has it)",
                )
        # A lead's key is its lead_id, else its number: the two kinds must not collide either.
        if lead.key != lead.to_number:
            if self._is_seen_number(lead.key) or not self.keys.add(hash(lead.key)):
                return Problem(path, lead.line, "lead_id", f"duplicate lead_id {lead.key!r}")
        elif len(self.keys) and hash(lead.key) in self.keys:
            return Problem(path, lead.line, "to_number", f"{lead.key} is an earlier row's lead_id")
        return None

    def _is_seen_number(self, key: str) -> bool:
        digits = key[1:]
        return key.startswith("+") and digits.isdigit() and int(digits) in self.numbers


def build_lead(
    campaign: CampaignSettings,
    path: Path,
    line: int,
    raw_number: object,
    lead_id: object,
    timezone: object,
    variables: dict[str, str],
    metadata: dict[str, Any],
    scan: LeadScan,
    number_field: str = "to_number",
    consent: object = None,
    address_state: object = None,
    alternates: list[tuple[str, object]] | None = None,
) -> Lead | None:
    ok = True
    if raw_number is None or (isinstance(raw_number, str) and not raw_number.strip()):
        scan.add(Problem(path, line, number_field, "phone number is missing"))
        return None
    if not isinstance(raw_number, str | int):
        scan.add(Problem(path, line, number_field, "must be a phone number string"))
        return None
    number_zones: tuple[str, ...] = ()
    try:
        number, number_zones = dialable(str(raw_number), campaign)
    except InvalidNumberError as exc:
        scan.add(Problem(path, line, number_field, str(exc)))
        ok = False
    zone: str | None = None
    if timezone not in (None, ""):
        written = str(timezone).strip()
        zone = canonical_zone(written)
        if zone is None:
            guess = closest_zone(written)
            hint = f"did you mean {guess}?" if guess else "use an IANA name like America/Chicago"
            scan.add(Problem(path, line, "timezone", f"unknown time zone {written!r} ({hint})"))
            ok = False
    key: str | None = None
    if lead_id not in (None, ""):
        if not isinstance(lead_id, str | int):
            scan.add(Problem(path, line, "lead_id", "must be a string or number"))
            ok = False
        else:
            key = str(lead_id).strip()
            if len(key) > MAX_LEAD_ID_CHARS:
                scan.add(
                    Problem(path, line, "lead_id", f"longer than {MAX_LEAD_ID_CHARS} characters")
                )
                ok = False
    consent_at: datetime | None = None
    if consent not in (None, ""):
        consent_at = consent_instant(consent)
        if consent_at is None:
            scan.add(
                Problem(
                    path,
                    line,
                    "consent_at",
                    f"{consent!r} is not an ISO date or date and time "
                    "(like 2026-03-01 or 2026-03-01T14:30:00Z)",
                )
            )
            ok = False
    state: str | None = None
    # Judged only where state rules are on: with `state_rules: false` a `state` column is an
    # ordinary variable (Ontario's ON included) and not the lead's state.
    if address_state not in (None, "") and campaign.state_rules is not False:
        state = state_code(str(address_state))
        if state is None:
            scan.add(
                Problem(
                    path,
                    line,
                    "state",
                    f"{address_state!r} is not a US state (a code like FL, or a name); "
                    "state rules judge it (state_rules: false leaves it a plain variable)",
                )
            )
            ok = False
    others: list[Alternate] = []
    for field_name, raw in alternates or []:
        if raw in (None, ""):
            continue
        try:
            other, other_zones = dialable(str(raw), campaign)
        except InvalidNumberError as exc:
            scan.add(Problem(path, line, field_name, str(exc)))
            ok = False
            continue
        other_states = lead_states_key(state, number_state(other))
        others.append(Alternate(other, zone_key(zone, other_zones, state), other_states))
    if not ok:
        return None
    states = lead_states_key(state, number_state(number))
    return Lead(
        alternates=others,
        consent_at=consent_at,
        states=states,
        key=key or number,
        to_number=number,
        timezone=zone,
        dynamic_variables={**campaign.dynamic_variables, **variables},
        metadata={**campaign.metadata, **metadata},
        line=line,
        zones=zone_key(zone, number_zones, state),
    )


def dialable(raw: str, campaign: CampaignSettings) -> tuple[str, tuple[str, ...]]:
    """The number as E.164 with its zones; InvalidNumberError if it is not valid, or is a
    premium-rate or service number the campaign does not allow."""
    number, zones, premium = number_facts(raw, campaign.default_region)
    if not campaign.allow_premium_numbers:
        special = special_number_reason(number, premium)
        if special is not None:
            raise InvalidNumberError(
                f"{number} is {special}; set allow_premium_numbers: true in the campaign "
                "file to call such numbers"
            )
    return number, zones


def consent_instant(value: object) -> datetime | None:
    """A consent date or date-and-time as an aware instant (a date or a naive time is UTC);
    None when it is neither."""
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, date):
        instant = datetime.combine(value, time())
    else:
        try:
            instant = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=4096)
def zone_key(timezone: str | None, number_zones: tuple[str, ...], state: str | None) -> str:
    # a handful of distinct answers per list; `state` is the address's (the area code's state
    # adds nothing to the number's own zones)
    return lead_zone_key(timezone, number_zones, (state,) if state else ())
