"""Statistics of proportions, with nothing but `math`: the Wilson score interval of one
proportion, the two-proportion z-test with the (Wald) interval of the difference, and how
many more per arm would show a difference. Two-sided, 95 % unless told otherwise."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the normal distribution's 97.5 % quantile
Z_POWER_80 = 0.8416212335729143  # its 80 % quantile: a test's power of 80 %


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def wilson(successes: int, trials: int, z: float = Z_95) -> Interval | None:
    """The Wilson score interval of successes/trials (Wilson 1927; Newcombe 1998, method 3):
    within [0, 1], sensible at 0 and at n; None without trials."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes of {trials} trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    # at 0 and at n the bounds are exactly 0 and 1 (the formula's rounding may miss by 1e-19)
    low = 0.0 if successes == 0 else min(max(0.0, centre - half), p)
    high = 1.0 if successes == trials else max(min(1.0, centre + half), p)
    return Interval(low, high)


def two_sided_p(z: float) -> float:
    """P(|Z| ≥ |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Difference:
    """Second proportion minus first: the estimate, its 95 % interval (Wald, unpooled), and
    the two-proportion z-test of equality (pooled standard error)."""

    estimate: float
    interval: Interval
    z: float
    p_value: float


def two_proportions(x1: int, n1: int, x2: int, n2: int, z: float = Z_95) -> Difference | None:
    """x2/n2 - x1/n1, tested; None when an arm has no trials."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    estimate = p2 - p1
    spread = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    pooled = (x1 + x2) / (n1 + n2)
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if pooled_se == 0:  # both arms all successes, or none: no evidence of any difference
        return Difference(estimate, Interval(estimate, estimate), 0.0, 1.0)
    score = estimate / pooled_se
    return Difference(
        estimate,
        Interval(estimate - z * spread, estimate + z * spread),
        score,
        two_sided_p(score),
    )


def per_arm_to_detect(
    base: float, difference: float, z_alpha: float = Z_95, z_power: float = Z_POWER_80
) -> int:
    """Trials per arm a two-sided test needs to find `difference` (a proportion, > 0) from a
    base rate `base` with 80 % power at the 5 % level (Fleiss's formula, without continuity
    correction)."""
    if difference <= 0:
        raise ValueError("the difference to detect must be positive")
    p1 = min(max(base, 0.0), 1.0)
    p2 = min(p1 + difference, 1.0)
    if p2 == p1:  # at the ceiling: look the other way
        p2 = max(p1 - difference, 0.0)
    mean = (p1 + p2) / 2
    need = (
        z_alpha * math.sqrt(2 * mean * (1 - mean))
        + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    ) ** 2 / (p2 - p1) ** 2
    return math.ceil(need)


def z_for(alpha: float) -> float:
    """The two-sided normal quantile for `alpha`: P(|Z| ≥ z) = alpha (bisection on erfc)."""
    low, high = 0.0, 40.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if two_sided_p(mid) > alpha else (low, mid)
    return (low + high) / 2
