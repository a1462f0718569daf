"""The Prometheus text rendering, and phone numbers in logs."""

from __future__ import annotations

from dialer.observability.logs import configure_logging, loggable_number
from dialer.observability.metrics import Metrics


def test_metrics_render_in_the_prometheus_text_format() -> None:
    """The standard exposition (prometheus_client): values as floats, process metrics too."""
    metrics = Metrics()
    metrics.calls_placed.labels(campaign="spring", outcome="placed").inc()
    metrics.calls_placed.labels(campaign="spring", outcome="placed").inc()
    metrics.active_calls.labels(campaign='say "hi"').set(4)
    metrics.api_latency.labels(endpoint="get-call").observe(0.05)
    metrics.api_latency.labels(endpoint="get-call").observe(20.0)
    metrics.errors.labels(kind="api_http_500", endpoint="get-call").inc()
    text = metrics.render()
    assert 'dialer_create_call_outcomes_total{campaign="spring",outcome="placed"} 2.0\n' in text
    assert 'dialer_active_calls{campaign="say \\"hi\\""} 4.0\n' in text
    assert 'dialer_api_request_seconds_bucket{endpoint="get-call",le="0.05"} 1.0\n' in text
    assert 'dialer_api_request_seconds_bucket{endpoint="get-call",le="10.0"} 1.0\n' in text
    assert 'dialer_api_request_seconds_bucket{endpoint="get-call",le="+Inf"} 2.0\n' in text
    assert 'dialer_api_request_seconds_count{endpoint="get-call"} 2.0\n' in text
    assert "# TYPE dialer_errors_total counter" in text
    assert "process_resident_memory_bytes" in text


def test_numbers_in_logs_are_masked_unless_asked() -> None:
    configure_logging("json")
    assert loggable_number("+14155550123") == "+1••••••0123"
    configure_logging("json", show_numbers=True)
    assert loggable_number("+14155550123") == "+14155550123"
    configure_logging("json")
