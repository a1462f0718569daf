"""The read backoff: how long a failing endpoint's next read waits, and what counts as failing.
Pure, table-tested."""

from __future__ import annotations

import pytest

from dialer.domain.backoff import (
    READ_BACKOFF_MAX,
    backoff_delay,
    is_read_fault,
    most_reads_per_second,
)


@pytest.mark.parametrize(
    ("failures", "draw", "expected"),
    [
        # answering: no wait, whatever the draw
        (0, 0.0, 0.0),
        (0, 0.99, 0.0),
        (-1, 0.5, 0.0),
        # doubling from 0.1 s, no jitter at draw 0
        (1, 0.0, 0.1),
        (2, 0.0, 0.2),
        (3, 0.0, 0.4),
        # capped at READ_BACKOFF_MAX (0.5 s) from the 4th failure on
        (4, 0.0, 0.5),
        (10, 0.0, 0.5),
        (10_000, 0.0, 0.5),
        # the draw takes up to a quarter off
        (1, 1.0, 0.075),
        (3, 0.5, 0.35),
        (4, 0.5, 0.4375),
        (50, 1.0, 0.375),
        # a draw out of [0, 1] is clamped
        (4, -3.0, 0.5),
        (4, 7.0, 0.375),
    ],
)
def test_backoff_delay(failures: int, draw: float, expected: float) -> None:
    assert backoff_delay(failures, draw) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("failures", "draw", "first", "cap", "jitter", "expected"),
    [
        (1, 0.0, 1.0, 8.0, 0.5, 1.0),
        (4, 0.0, 1.0, 8.0, 0.5, 8.0),
        (5, 0.0, 1.0, 8.0, 0.5, 8.0),
        (5, 1.0, 1.0, 8.0, 0.5, 4.0),
        (2, 0.5, 0.25, 0.25, 0.0, 0.25),  # cap == first: a constant delay; no jitter
        (3, 0.9, 0.1, 30.0, 1.0, 0.04),  # full jitter: anything from 0 to the ceiling
    ],
)
def test_backoff_delay_with_its_own_settings(
    failures: int, draw: float, first: float, cap: float, jitter: float, expected: float
) -> None:
    delay = backoff_delay(failures, draw, first=first, cap=cap, jitter=jitter)
    assert delay == pytest.approx(expected)


@pytest.mark.parametrize(
    ("first", "cap", "jitter"),
    [(0.0, 1.0, 0.25), (-1.0, 1.0, 0.25), (1.0, 0.5, 0.25), (0.1, 1.0, -0.1), (0.1, 1.0, 1.5)],
)
def test_backoff_delay_refuses_nonsense_settings(first: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="bad backoff"):
        backoff_delay(1, 0.0, first=first, cap=cap, jitter=jitter)


def test_an_outage_is_read_at_most_a_few_times_a_second() -> None:
    """At the cap, whatever the draws, one endpoint is read at most 1/(0.75 * 0.5) times a
    second — and its end noticed within READ_BACKOFF_MAX."""
    assert most_reads_per_second() == pytest.approx(1 / 0.375)
    for draw in (0.0, 0.25, 0.5, 0.999):
        assert 1 / backoff_delay(99, draw) <= most_reads_per_second() + 1e-9
        assert backoff_delay(99, draw) <= READ_BACKOFF_MAX


@pytest.mark.parametrize(
    ("status", "fault"),
    [
        (None, True),  # refused, timed out, dropped: no answer
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (429, True),  # rate limited: slow down too
        (200, False),
        (201, False),
        (400, False),  # Retell answered, if not as hoped
        (401, False),
        (404, False),  # an unknown call: an answer
        (422, False),
        (499, False),
    ],
)
def test_which_answers_say_an_endpoint_is_failing(status: int | None, fault: bool) -> None:
    assert is_read_fault(status) is fault
