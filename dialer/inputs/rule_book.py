"""The state calling rules the package ships (dialer/data/state_rules.yaml), and the rules in
force for a campaign (the shipped rows with its overrides, or none)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from dialer.domain.calling_rules import CallingRules
from dialer.domain.campaign import CampaignSettings
from dialer.domain.state_rules import StateRule, StateRuleRow, build_rule, rule_book

SHIPPED_FILE = "state_rules.yaml"


@lru_cache(maxsize=1)
def shipped_rules() -> dict[str, StateRule]:
    """The rows in the package, one per state with rules stricter than the federal floor."""
    text = resources.files("dialer.data").joinpath(SHIPPED_FILE).read_text(encoding="utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    return {
        state: build_rule(state, StateRuleRow.model_validate(row)) for state, row in raw.items()
    }


def rules_in_force(settings: CampaignSettings) -> dict[str, StateRule]:
    """A campaign's state rules: none with `state_rules: false`, else the shipped rows with
    its overrides."""
    if settings.state_rules is False:
        return {}
    overrides = settings.state_rules if isinstance(settings.state_rules, dict) else None
    return rule_book(shipped_rules(), overrides)


def calling_rules(settings: CampaignSettings) -> CallingRules:
    """Everything that decides when this campaign's leads may be called."""
    return CallingRules.of(settings, rules_in_force(settings))


def rules_in_force_line(settings: CampaignSettings) -> str:
    """One line for `dialer validate`: which state rules this campaign runs under."""
    if settings.state_rules is False:
        return "state rules: off (state_rules: false)"
    book = rules_in_force(settings)
    shipped = shipped_rules()
    checked = max(rule.checked for rule in shipped.values())
    unconfirmed = sorted(s for s, r in book.items() if r.status == "unconfirmed")
    overridden = sorted(settings.state_rules) if isinstance(settings.state_rules, dict) else []
    line = (
        f"state rules: {len(book)} states ({', '.join(sorted(book))}), shipped rows checked "
        f"{checked.isoformat()}; from secondary or conflicting sources only: "
        f"{', '.join(unconfirmed) or 'none'}"
    )
    if overridden:
        line += f"; overridden by the campaign: {', '.join(overridden)}"
    return line
