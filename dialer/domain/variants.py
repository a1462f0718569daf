"""Experiments: a campaign's variants (another agent, agent version or dynamic variables) and
which one a lead gets. The assignment is a hash of the campaign's name and the lead's id, so it
is sticky across attempts, reloads and processes, and needs nothing stored to be repeated."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

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


def dial_variant(
    recorded: str | None, campaign_name: str, lead_key: str, variants: Sequence[Variant]
) -> Variant | None:
    """The variant a lead's next call uses: the one its attempts recorded while the campaign
    still has it (a lead stays in its arm for good, whatever a reload does to the weights),
    else the one `assign_variant` gives it (not dialed yet, or its variant was removed or
    renamed); None without an experiment."""
    kept = next((v for v in variants if v.name == recorded), None)
    return kept or assign_variant(campaign_name, lead_key, variants)


def lead_variant(
    recorded: str | None, campaign_name: str, lead_key: str, variants: Sequence[Variant]
) -> str | None:
    """A lead's variant, as the export, the results webhook and the experiment's report all
    name it: the one its attempts recorded (a variant since renamed or removed stays, in its
    own column), else the one `dial_variant` gives it (a lead not dialed yet); None without
    an experiment."""
    if recorded is not None:
        return recorded
    assigned = dial_variant(None, campaign_name, lead_key, variants)
    return assigned.name if assigned is not None else None


def _shares(variants: Sequence[Variant]) -> dict[str, float]:
    total = sum(v.weight for v in variants)
    return {v.name: v.weight / total for v in variants}


def variant_changes(
    old: Sequence[Variant], new: Sequence[Variant], recorded: Mapping[str, int]
) -> str | None:
    """One line for `dialer load` when a reload renames, removes or reweights the variants of
    a campaign whose leads have recorded one (`recorded`: dialed leads by their recorded
    variant); None when nothing of that changed or no lead was dialed in a variant."""
    before, after = _shares(old) if old else {}, _shares(new) if new else {}
    removed = [name for name in before if name not in after]
    added = [name for name in after if name not in before]
    reweighted = [
        f"{name} reweighted ({before[name]:.0%} → {after[name]:.0%})"
        for name in after
        if name in before and abs(before[name] - after[name]) > 1e-9
    ]
    dialed = {name: n for name, n in recorded.items() if n}
    if not (removed or added or reweighted) or not dialed:
        return None
    changes = [f"{n} removed" for n in removed] + [f"{n} added" for n in added] + reweighted
    kept = sum(n for name, n in dialed.items() if name in after)
    gone = sorted(name for name in dialed if name not in after)
    line = f"variants changed: {', '.join(changes)}; {kept:,} dialed lead(s) keep their variant"
    if gone:
        names = ", ".join(gone)
        moved = sum(dialed[name] for name in gone)
        line += (
            f"; {moved:,} recorded {names}, no longer a variant: their next calls get the hash's "
            f"variant; the report keeps {names} as a column for the calls made so far"
        )
    return line
