"""What an experiment's report says: per variant, the funnel leads → dialed → connected →
talked ≥ 30 s → call_successful → goal, each share with its Wilson interval; each variant
against the first (B - A) with a two-proportion test; cost per goal reached; and one plain
sentence saying which variant is ahead and whether the data are enough to say so.

The comparison is of the goal (else `call_successful`) per dialed lead. With fewer than
MIN_DIALED dialed leads in an arm the sentence says the data are too few, whatever the test
says. With more than two variants each is compared with the first at 5 % / (k - 1)
(Bonferroni), so that more arms do not make a winner by chance more likely."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialer.domain.calls import CallStatus
from dialer.domain.goal import Goal
from dialer.domain.proportions import (
    Z_95,
    Difference,
    Interval,
    per_arm_to_detect,
    two_proportions,
    wilson,
    z_for,
)
from dialer.domain.timezones import zone

TALKED_MS = 30_000  # a call "talked" when it lasted this long
MIN_DIALED = 30  # dialed leads per arm below which no verdict is given
ALPHA = 0.05
STAGES = ("leads", "dialed", "connected", "talked_30s", "call_successful", "goal")
_PLACED_STATES = frozenset({"placed", "ended"})  # an attempt whose call existed
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Funnel:
    """One variant's counts: leads at each stage (a lead counts once per stage) and what its
    calls cost."""

    leads: int = 0
    dialed: int = 0
    connected: int = 0
    talked_30s: int = 0
    call_successful: int = 0
    goal: int = 0
    cost_cents: float = 0.0

    def count(self, stage: str) -> int:
        return int(getattr(self, stage))


def lead_stages(attempts: Iterable[Mapping[str, Any]], goal: Goal | None) -> set[str]:
    """The funnel stages one lead reached, from its attempts (store rows: state,
    call_status, duration_ms, analysis)."""
    reached = {"leads"}
    for attempt in attempts:
        if attempt.get("state") not in _PLACED_STATES:
            continue
        reached.add("dialed")
        if attempt.get("call_status") != CallStatus.ENDED:
            continue
        reached.add("connected")
        if (attempt.get("duration_ms") or 0) >= TALKED_MS:
            reached.add("talked_30s")
        analysis = attempt.get("analysis")
        if isinstance(analysis, Mapping) and analysis.get("call_successful") is True:
            reached.add("call_successful")
        if goal is not None and goal.reached(analysis if isinstance(analysis, Mapping) else None):
            reached.add("goal")
    return reached


def add_lead(funnel: Funnel, attempts: Sequence[Mapping[str, Any]], goal: Goal | None) -> None:
    for stage in lead_stages(attempts, goal):
        setattr(funnel, stage, funnel.count(stage) + 1)
    funnel.cost_cents += sum(float(a.get("cost_cents") or 0) for a in attempts)


def local_slot(zone_key: str, when: datetime) -> tuple[int, int]:
    """(weekday 0 = Monday, hour) of `when` at the lead (its first zone; UTC if unknown)."""
    first = zone_key.split("|", maxsplit=1)[0] if zone_key else ""
    local = when.astimezone(zone(first)) if first else when
    return local.weekday(), local.hour


@dataclass
class Heatmap:
    """Calls and connected calls by (state, local weekday, local hour)."""

    cells: dict[tuple[str, int, int], list[int]] = field(default_factory=dict)

    def add(self, state: str, weekday: int, hour: int, connected: bool) -> None:
        cell = self.cells.setdefault((state, weekday, hour), [0, 0])
        cell[0] += 1
        cell[1] += connected

    def states(self) -> list[str]:
        """States by calls, most first."""
        calls: dict[str, int] = {}
        for (state, _, _), (n, _) in self.cells.items():
            calls[state] = calls.get(state, 0) + n
        return sorted(calls, key=lambda s: (-calls[s], s))

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {"state": s, "weekday": WEEKDAY_NAMES[d], "hour": h, "calls": n, "connected": c}
            for (s, d, h), (n, c) in sorted(self.cells.items())
        ]


@dataclass(frozen=True)
class Comparison:
    """A variant against the first one, on the compared stage per dialed lead."""

    variant: str
    against: str
    difference: Difference
    alpha: float

    @property
    def significant(self) -> bool:
        return self.difference.p_value < self.alpha and self.difference.interval.excludes_zero()


@dataclass(frozen=True)
class ExperimentResult:
    funnels: dict[str, Funnel]
    measure: str  # "goal" or "call_successful"
    goal_text: str | None
    comparisons: list[Comparison]
    verdict: str

    @property
    def stages(self) -> tuple[str, ...]:
        """The funnel's stages shown: no `goal` stage when no goal is set (it would read 0)."""
        return STAGES if self.goal_text is not None else STAGES[:-1]

    def rate(self, variant: str, stage: str) -> tuple[float | None, Interval | None]:
        """A stage's share (of leads for `dialed`, of dialed leads after) and its interval."""
        funnel = self.funnels[variant]
        base = funnel.leads if stage in ("leads", "dialed") else funnel.dialed
        found = wilson(funnel.count(stage), base)
        return (funnel.count(stage) / base if base else None), found

    def as_json(self) -> dict[str, Any]:
        variants = []
        for name, funnel in self.funnels.items():
            stages = {}
            for stage in self.stages:
                rate, interval = self.rate(name, stage)
                stages[stage] = {
                    "count": funnel.count(stage),
                    "rate": None if rate is None else round(rate, 4),
                    "ci95": None
                    if interval is None
                    else [round(interval.low, 4), round(interval.high, 4)],
                }
            variants.append(
                {
                    "name": name,
                    "funnel": stages,
                    "cost_usd": round(funnel.cost_cents / 100, 4),
                    "cost_per_goal_usd": cost_per(funnel, self.measure),
                }
            )
        return {
            "measure": self.measure,
            "goal": self.goal_text,
            "variants": variants,
            "comparisons": [
                {
                    "variant": c.variant,
                    "against": c.against,
                    "difference": round(c.difference.estimate, 4),
                    "ci95": [
                        round(c.difference.interval.low, 4),
                        round(c.difference.interval.high, 4),
                    ],
                    "p_value": round(c.difference.p_value, 6),
                    "alpha": round(c.alpha, 4),
                    "significant": c.significant,
                }
                for c in self.comparisons
            ],
            "verdict": self.verdict,
        }


def cost_per(funnel: Funnel, stage: str) -> float | None:
    """US dollars spent per lead that reached `stage`; None when none did."""
    reached = funnel.count(stage)
    return round(funnel.cost_cents / 100 / reached, 4) if reached else None


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _points(value: float) -> str:
    return f"{100 * value:.1f}"


def _p(value: float) -> str:
    return (
        "p < 0.0001"
        if value < 0.0001
        else f"p = {value:.4f}"
        if value < 0.01
        else f"p = {value:.2f}"
    )


def verdict(funnels: Mapping[str, Funnel], measure: str, comparisons: Sequence[Comparison]) -> str:
    """The plain sentence: which variant is ahead, and whether the data are enough to say so."""
    names = list(funnels)
    what = "reaches the goal" if measure == "goal" else "has successful calls"
    sizes = ", ".join(f"{n} {funnels[n].dialed:,}" for n in names)
    few = [n for n in names if funnels[n].dialed < MIN_DIALED]
    if few:
        return (
            f"Too few data to compare yet: fewer than {MIN_DIALED} dialed leads in "
            f"{', '.join(few)} (dialed: {sizes})."
        )
    rates = {n: funnels[n].count(measure) / funnels[n].dialed for n in names}
    ahead = [c for c in comparisons if c.significant]
    if ahead:
        best = max(ahead, key=lambda c: abs(c.difference.estimate))
        d = best.difference
        winner, loser = (
            (best.variant, best.against) if d.estimate > 0 else (best.against, best.variant)
        )
        low, high = sorted((abs(d.interval.low), abs(d.interval.high)))
        return (
            f"{winner} {what} more often: {_pct(rates[winner])} vs {_pct(rates[loser])} "
            f"of dialed leads (difference {_points(abs(d.estimate))} points, "
            f"{100 * (1 - best.alpha):g} % CI "
            f"{_points(low)}–{_points(high)}, {_p(d.p_value)}; dialed: {sizes})."
        )
    first = names[0]
    spread = max(abs(c.difference.estimate) for c in comparisons) if comparisons else 0.0
    shown = max(spread, 0.02)
    need = per_arm_to_detect(rates[first], shown)
    more = max(need - min(funnels[n].dialed for n in names), 1)
    listed = " vs ".join(f"{n} {_pct(rates[n])}" for n in names)
    return (
        f"No variant is ahead yet: {listed} of dialed leads (dialed: {sizes}); about "
        f"{more:,} more dialed leads per variant would show a difference of "
        f"{_points(shown)} points."
    )


def compare(funnels: Mapping[str, Funnel], goal: Goal | None) -> ExperimentResult:
    """The experiment's result from its variants' funnels (the first variant is the
    baseline)."""
    measure = "goal" if goal is not None else "call_successful"
    names = list(funnels)
    alpha = ALPHA / max(len(names) - 1, 1)
    z = Z_95 if len(names) <= 2 else z_for(alpha)
    comparisons = []
    base = funnels[names[0]] if names else Funnel()
    for name in names[1:]:
        other = funnels[name]
        found = two_proportions(
            base.count(measure), base.dialed, other.count(measure), other.dialed, z
        )
        if found is not None:
            comparisons.append(Comparison(name, names[0], found, alpha))
    return ExperimentResult(
        dict(funnels),
        measure,
        goal.text if goal is not None else None,
        comparisons,
        verdict(funnels, measure, comparisons),
    )
