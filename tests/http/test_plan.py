"""Which listeners a worker opens for its port flags (dialer.app.plan_listeners)."""

from __future__ import annotations

import pytest

from dialer.app import ListenerPlan, plan_listeners


@pytest.mark.parametrize(
    ("http", "metrics", "webhook", "plans"),
    [
        (None, None, None, []),
        (8080, None, None, [ListenerPlan(8080, "--http-port", True, True)]),
        (None, 9100, None, [ListenerPlan(9100, "--metrics-port", True, False)]),
        (None, None, 8080, [ListenerPlan(8080, "--webhook-port", False, True)]),
        (
            None,
            9100,
            8080,
            [
                ListenerPlan(9100, "--metrics-port", True, False),
                ListenerPlan(8080, "--webhook-port", False, True),
            ],
        ),
        # the same port named twice: one listener serving both
        (None, 9100, 9100, [ListenerPlan(9100, "--metrics-port/--webhook-port", True, True)]),
        (
            8080,
            9100,
            8080,
            [
                ListenerPlan(8080, "--http-port/--webhook-port", True, True),
                ListenerPlan(9100, "--metrics-port", True, False),
            ],
        ),
        # port 0 (any free port) is never shared
        (
            None,
            0,
            0,
            [
                ListenerPlan(0, "--metrics-port", True, False),
                ListenerPlan(0, "--webhook-port", False, True),
            ],
        ),
    ],
)
def test_plan_listeners(
    http: int | None, metrics: int | None, webhook: int | None, plans: list[ListenerPlan]
) -> None:
    assert plan_listeners(http, metrics, webhook) == plans
