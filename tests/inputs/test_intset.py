"""The compact integer set behind duplicate detection, against Python's own set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.inputs.intset import IntSet

int64 = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(int64, st.integers(-3, 3)), max_size=3000), st.lists(int64))
def test_behaves_like_a_set(added: list[int], probes: list[int]) -> None:
    ours = IntSet(bits=2)  # tiny, so it grows many times
    reference: set[int] = set()
    for value in added:
        assert ours.add(value) == (value not in reference)
        reference.add(value)
    assert len(ours) == len(reference)
    for value in [*added, *probes]:
        assert (value in ours) == (value in reference)


def test_runs_of_consecutive_numbers() -> None:
    numbers = IntSet()
    for value in range(12_122_000_000, 12_122_200_000):
        assert numbers.add(value)
    assert not numbers.add(12_122_100_000)
    assert 12_122_199_999 in numbers and 12_122_200_000 not in numbers


def test_refuses_what_does_not_fit() -> None:
    with pytest.raises(OverflowError):
        IntSet().add(2**63)
