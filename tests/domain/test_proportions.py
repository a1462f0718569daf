"""Wilson intervals, the two-proportion test and sample sizes, against published values:
Newcombe (1998a, 1998b; Statistics in Medicine 17) for the intervals, the 2x2 chi-square
(z² = χ² without continuity correction) for the test, and Fleiss's sample-size table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.domain.proportions import (
    Interval,
    per_arm_to_detect,
    two_proportions,
    two_sided_p,
    wilson,
    z_for,
)


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Newcombe 1998a, Table II, method 3 (score, no continuity correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0000),
    ],
)
def test_wilson_matches_newcombe(successes: int, trials: int, low: float, high: float) -> None:
    found = wilson(successes, trials)
    assert found is not None
    assert found.low == pytest.approx(low, abs=5e-5)
    assert found.high == pytest.approx(high, abs=5e-5)


def test_no_trials_no_interval_and_impossible_counts_refused() -> None:
    assert wilson(0, 0) is None
    with pytest.raises(ValueError, match="3 successes of 2"):
        wilson(3, 2)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [
        # Newcombe 1998b, Table II, method 1 (Wald), as x2/n2 - x1/n1
        (48, 80, 56, 70, 0.0575, 0.3425),
        (3, 10, 9, 10, 0.2605, 0.9395),
    ],
)
def test_difference_interval_matches_newcombe(
    x1: int, n1: int, x2: int, n2: int, low: float, high: float
) -> None:
    found = two_proportions(x1, n1, x2, n2)
    assert found is not None
    assert found.interval.low == pytest.approx(low, abs=5e-5)
    assert found.interval.high == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"), [(48, 80, 56, 70), (3, 10, 9, 10), (120, 500, 160, 500)]
)
def test_the_z_test_is_the_chi_square_test(x1: int, n1: int, x2: int, n2: int) -> None:
    """z² equals Pearson's χ² of the 2x2 table: n(ad - bc)² / (row and column totals)."""
    a, b, c, d = x1, n1 - x1, x2, n2 - x2
    n = n1 + n2
    chi2 = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    found = two_proportions(x1, n1, x2, n2)
    assert found is not None
    assert found.z**2 == pytest.approx(chi2)
    # 48/80 vs 56/70: χ² = 7.02, p = 0.0080 (Pearson, 1 df)
    if (x1, n1) == (48, 80):
        assert found.p_value == pytest.approx(0.00805, abs=5e-5)


@pytest.mark.parametrize(
    ("z", "p"), [(1.959964, 0.05), (2.575829, 0.01), (0.0, 1.0), (3.290527, 0.001)]
)
def test_two_sided_p_of_known_quantiles(z: float, p: float) -> None:
    assert two_sided_p(z) == pytest.approx(p, abs=1e-6)
    assert two_sided_p(-z) == two_sided_p(z)


def test_z_for_inverts_two_sided_p() -> None:
    assert z_for(0.05) == pytest.approx(1.959964, abs=1e-6)
    assert z_for(0.025) == pytest.approx(2.241403, abs=1e-6)


def test_identical_all_or_nothing_arms_show_no_difference() -> None:
    found = two_proportions(0, 50, 0, 60)
    assert found is not None and found.p_value == 1.0 and found.interval == Interval(0.0, 0.0)
    assert two_proportions(1, 0, 1, 2) is None


@pytest.mark.parametrize(
    ("base", "difference", "per_arm"),
    # Fleiss, Statistical Methods for Rates and Proportions: alpha = 0.05 two-sided, power 80 %,
    # without continuity correction
    [(0.25, 0.05, 1251), (0.5, 0.1, 388), (0.1, 0.1, 199)],
)
def test_per_arm_sample_size(base: float, difference: float, per_arm: int) -> None:
    assert per_arm_to_detect(base, difference) == per_arm


def test_sample_size_at_the_ceiling_looks_down() -> None:
    assert per_arm_to_detect(1.0, 0.1) == per_arm_to_detect(0.9, 0.1)
    with pytest.raises(ValueError, match="positive"):
        per_arm_to_detect(0.5, 0)


@given(st.integers(1, 100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_a_wilson_interval_holds_its_proportion_within_0_and_1(counts: tuple[int, int]) -> None:
    successes, trials = counts
    found = wilson(successes, trials)
    assert found is not None
    assert 0.0 <= found.low <= successes / trials <= found.high <= 1.0


@given(
    st.integers(1, 5_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 5_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_swapping_the_arms_flips_the_difference_not_the_test(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    ab = two_proportions(*first, *second)
    ba = two_proportions(*second, *first)
    assert ab is not None and ba is not None
    assert ab.estimate == pytest.approx(-ba.estimate, abs=1e-12)
    assert ab.p_value == pytest.approx(ba.p_value)
    assert 0.0 <= ab.p_value <= 1.0
    assert ab.interval.low <= ab.estimate <= ab.interval.high
