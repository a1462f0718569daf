"""The Prometheus text rendering, and phone numbers in logs."""

from __future__ import annotations

from dialer.logs import configure_logging, loggable_number
from dialer.metrics import Metrics


def test_metrics_render_in_the_prometheus_text_format() -> None:
    metrics = Metrics()
    metrics.calls_placed.inc(campaign="spring", outcome="placed")
    metrics.calls_placed.inc(campaign="spring", outcome="placed")
    metrics.active_calls.set(4, campaign='say "hi"')
    metrics.api_latency.observe(0.05, endpoint="get-call")
    metrics.api_latency.observe(20.0, endpoint="get-call")
    text = metrics.render()
    assert 'dialer_create_call_outcomes_total{campaign="spring",outcome="placed"} 2\n' in text
    assert 'dialer_active_calls{campaign="say \\"hi\\""} 4\n' in text
    assert 'dialer_api_request_seconds_bucket{endpoint="get-call",le="0.05"} 1\n' in text
    assert 'dialer_api_request_seconds_bucket{endpoint="get-call",le="10"} 1\n' in text
    assert 'dialer_api_request_seconds_bucket{endpoint="get-call",le="+Inf"} 2\n' in text
    assert 'dialer_api_request_seconds_count{endpoint="get-call"} 2\n' in text
    assert "# TYPE dialer_errors_total counter" in text


def test_numbers_in_logs_are_masked_unless_asked() -> None:
    configure_logging("json")
    assert loggable_number("+14155550123") == "+1••••••0123"
    configure_logging("json", show_numbers=True)
    assert loggable_number("+14155550123") == "+14155550123"
    configure_logging("json")
