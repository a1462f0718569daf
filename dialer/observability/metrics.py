"""Prometheus metrics (prometheus_client): what dialer counts, in one registry per process
with the standard process and platform collectors. `dialer worker --metrics-port` serves it
(dialer.http)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Everything dialer reports. One instance per process (`METRICS`)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self.calls_placed = Counter(
            "dialer_create_call_outcomes",
            "create-phone-call answers by outcome: placed, not_placed, in_doubt, fatal",
            ["campaign", "outcome"],
            registry=registry,
        )
        self.calls_ended = Counter(
            "dialer_calls_ended",
            "calls followed to their end, by disconnection reason",
            ["campaign", "reason"],
            registry=registry,
        )
        self.active_calls = Gauge(
            "dialer_active_calls",
            "calls this process is dialing or following now",
            ["campaign"],
            registry=registry,
        )
        self.in_doubt = Gauge(
            "dialer_in_doubt_attempts",
            "attempts whose create answer was ambiguous, unsettled",
            ["campaign"],
            registry=registry,
        )
        self.api_latency = Histogram(
            "dialer_api_request_seconds",
            "Retell API request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "dialer_errors", "errors by kind", ["kind", "endpoint"], registry=registry
        )
        self.store_up = Gauge(
            "dialer_store_up", "1 while the store answers, 0 during an outage", registry=registry
        )
        self.store_outages = Counter(
            "dialer_store_outages", "times the store stopped answering", registry=registry
        )
        self.campaigns_paused = Counter(
            "dialer_campaigns_paused",
            "campaigns this process paused by itself, by reason (account outcome, failure spike)",
            ["campaign", "reason"],
            registry=registry,
        )
        self.numbers_retired = Counter(
            "dialer_from_numbers_retired",
            "from-numbers a campaign retired (marked as spam, or failing too often)",
            ["campaign"],
            registry=registry,
        )
        self.pre_dial_hook_failures = Counter(
            "dialer_pre_dial_hook_failures",
            "dials held back because the pre-dial hook did not answer well (fail closed)",
            ["campaign"],
            registry=registry,
        )
        self.results_pushed = Counter(
            "dialer_results_pushed",
            "results_webhook deliveries by outcome: delivered, failed (tried again later), dead",
            ["campaign", "outcome"],
            registry=registry,
        )
        self.store_up.set(1)

    def render(self) -> str:
        return generate_latest(self.registry).decode()

    def store_changed(self, up: bool, _reason: str) -> None:
        """A store Availability listener."""
        self.store_up.set(1 if up else 0)
        if not up:
            self.store_outages.inc()


METRICS = Metrics()


def observe_api_call(endpoint: str, seconds: float, error: str | None) -> None:
    """A RetellClient observer (dialer.retell.client.ApiObserver) feeding METRICS."""
    if error != "malformed_body":  # a parse fault is told after the request's own report
        METRICS.api_latency.labels(endpoint=endpoint).observe(seconds)
    if error is not None:
        METRICS.errors.labels(kind=f"api_{error}", endpoint=endpoint).inc()
