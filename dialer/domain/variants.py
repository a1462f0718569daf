"""Experiments: a campaign's variants (another agent, agent version or dynamic variables) and
which one a lead gets. The assignment is a hash of the campaign's name and the lead's id, so it
is sticky across attempts, reloads and processes, and needs nothing stored to be repeated."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from dialer.domain.variables import StringVariables

_BUCKETS = 10_000


class Variant(BaseModel):
    """One arm of an experiment: what its leads' calls use instead of the campaign's own."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    agent_id: str | None = None
    agent_version: int | None = Field(None, ge=0)
    dynamic_variables: StringVariables = Field(default_factory=dict)
    weight: float = Field(1.0, gt=0)


def variant_bucket(campaign_name: str, lead_key: str) -> float:
    """Where a lead falls in [0, 1): uniform, and the same on every machine and every run."""
    digest = hashlib.sha256(f"{campaign_name}\x1f{lead_key}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") % _BUCKETS) / _BUCKETS


def assign_variant(
    campaign_name: str, lead_key: str, variants: Sequence[Variant]
) -> Variant | None:
    """The lead's variant, in proportion to the weights; None when there is no experiment."""
    if not variants:
        return None
    point = variant_bucket(campaign_name, lead_key) * sum(v.weight for v in variants)
    edge = 0.0
    for variant in variants:
        edge += variant.weight
        if point < edge:
            return variant
    return variants[-1]


def lead_variant(
    recorded: str | None, campaign_name: str, lead_key: str, variants: Sequence[Variant]
) -> str | None:
    """A lead's variant, as the export, the results webhook and the experiment's report all
    name it: the one its attempts recorded (a variant since renamed stays), else the one
    `assign_variant` gives it (a lead not dialed yet); None without an experiment."""
    if recorded is not None:
        return recorded
    assigned = assign_variant(campaign_name, lead_key, variants)
    return assigned.name if assigned is not None else None
