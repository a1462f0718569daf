"""Prometheus metrics: a small registry rendered in the text exposition format.

Counters and gauges keyed by label values, and one latency histogram. Kept in-process and
dependency-free; `dialer worker --metrics-port` serves it (dialer.service).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(values: dict[str, str]) -> Labels:
    return tuple(sorted(values.items()))


def _render_labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    escaped = (
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in pairs
    )
    return "{" + ",".join(escaped) + "}"


@dataclass
class _Family:
    """Samples of one metric name, by label values."""

    name: str
    help: str
    values: dict[Labels, float] = field(default_factory=lambda: defaultdict(float))
    kind = "untyped"

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        lines += [f"{self.name}{_render_labels(k)} {v:g}" for k, v in sorted(self.values.items())]
        return lines


class Counter(_Family):
    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.values[_labels(labels)] += amount


class Gauge(_Family):
    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        self.values[_labels(labels)] = value


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=lambda: defaultdict(float))

    def observe(self, value: float, **labels: str) -> None:
        key = _labels(labels)
        counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[key] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip([*self.buckets, float("inf")], counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f"{self.name}_bucket{_render_labels(key, (('le', le),))} {running}")
            lines.append(f"{self.name}_sum{_render_labels(key)} {self.sums[key]:g}")
            lines.append(f"{self.name}_count{_render_labels(key)} {running}")
        return lines


@dataclass
class Metrics:
    """Everything dialer reports. One instance per process (`METRICS`)."""

    calls_placed: Counter = field(
        default_factory=lambda: Counter(
            "dialer_create_call_outcomes_total",
            "create-phone-call answers by outcome: placed, not_placed, in_doubt, fatal",
        )
    )
    calls_ended: Counter = field(
        default_factory=lambda: Counter(
            "dialer_calls_ended_total", "calls followed to their end, by disconnection reason"
        )
    )
    active_calls: Gauge = field(
        default_factory=lambda: Gauge(
            "dialer_active_calls", "calls this process is dialing or following now"
        )
    )
    in_doubt: Gauge = field(
        default_factory=lambda: Gauge(
            "dialer_in_doubt_attempts", "attempts whose create answer was ambiguous, unsettled"
        )
    )
    api_latency: Histogram = field(
        default_factory=lambda: Histogram(
            "dialer_api_request_seconds", "Retell API request latency by endpoint"
        )
    )
    errors: Counter = field(
        default_factory=lambda: Counter("dialer_errors_total", "errors by kind")
    )

    def render(self) -> str:
        lines: list[str] = []
        for metric in (
            self.calls_placed,
            self.calls_ended,
            self.active_calls,
            self.in_doubt,
            self.api_latency,
            self.errors,
        ):
            lines += metric.render()
        return "\n".join(lines) + "\n"


METRICS = Metrics()


def observe_api_call(endpoint: str, seconds: float, error: str | None) -> None:
    """A RetellClient observer (dialer.retell.client.ApiObserver) feeding METRICS."""
    METRICS.api_latency.observe(seconds, endpoint=endpoint)
    if error is not None:
        METRICS.errors.inc(kind=f"api_{error}", endpoint=endpoint)
