"""The results webhook's setting, signature and retry schedule (pure)."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from dialer.domain.campaign import FROM_STORE
from dialer.domain.results_push import (
    DELIVERY_WINDOW,
    ResultsWebhook,
    missing_secret,
    next_try_at,
    retry_delay,
    sign,
    url_problem,
    verify,
)

BODY = b'{"event_id":"e1","event":"lead_finished"}'
NOW_MS = 1_765_000_000_000


@pytest.mark.parametrize(
    ("body", "secret", "ms", "digest_of"),
    [
        (BODY, "s3cret", NOW_MS, BODY + str(NOW_MS).encode()),
        (b"", "k", 0, b"0"),
        ("é".encode(), "ключ", 17, "é".encode() + b"17"),
    ],
)
def test_the_signature_is_hmac_sha256_over_the_body_then_the_stamp(
    body: bytes, secret: str, ms: int, digest_of: bytes
) -> None:
    expected = hmac.new(secret.encode(), digest_of, hashlib.sha256).hexdigest()
    assert sign(body, secret, ms) == f"v={ms},d={expected}"


@pytest.mark.parametrize(
    ("body", "secret", "signed_at", "now", "ok"),
    [
        (BODY, "s3cret", NOW_MS, NOW_MS, True),
        (BODY, "s3cret", NOW_MS, NOW_MS + 299_000, True),  # four minutes and more later
        (BODY, "s3cret", NOW_MS, NOW_MS + 301_000, False),  # too old
        (BODY, "s3cret", NOW_MS + 301_000, NOW_MS, False),  # too far ahead
        (BODY + b" ", "s3cret", NOW_MS, NOW_MS, False),  # another body
        (BODY, "other", NOW_MS, NOW_MS, False),  # another secret
    ],
)
def test_verify_accepts_only_the_same_body_secret_and_a_recent_stamp(
    body: bytes, secret: str, signed_at: int, now: int, ok: bool
) -> None:
    header = sign(BODY, "s3cret", signed_at)
    assert verify(body, secret, header, now) is ok


@pytest.mark.parametrize("header", ["", "v=1", "d=ab", "v=x,d=" + "0" * 64, "garbage"])
def test_verify_refuses_malformed_headers(header: str) -> None:
    assert not verify(BODY, "s3cret", header, NOW_MS)


@pytest.mark.parametrize(
    ("failures", "jitter", "seconds"),
    [
        (1, 0.5, 1),
        (2, 0.5, 2),
        (3, 0.5, 4),
        (10, 0.5, 512),
        (11, 0.5, 600),  # 1024 s, capped at ten minutes
        (40, 0.5, 600),
        (1, 0.0, 0.75),  # jitter spreads from 75 %
        (1, 0.999999, 1.25),  # to 125 %
        (10, 0.999999, 600),  # never past the cap
        (0, 0.5, 1),
    ],
)
def test_the_retry_delay_doubles_from_one_second_to_ten_minutes(
    failures: int, jitter: float, seconds: float
) -> None:
    assert retry_delay(failures, jitter).total_seconds() == pytest.approx(seconds, abs=1e-4)


T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "failures", "delay"),
    [
        (timedelta(0), 1, timedelta(seconds=1)),
        (timedelta(hours=23), 20, timedelta(minutes=10)),  # from now, not from the event's time
        (timedelta(hours=23, minutes=55), 20, None),  # ten more minutes is past its 24 hours
        (DELIVERY_WINDOW, 1, None),
    ],
)
def test_an_event_is_tried_again_until_24_hours_after_it_was_made(
    age: timedelta, failures: int, delay: timedelta | None
) -> None:
    at = next_try_at(T0 - age, T0, failures, 0.5)
    assert at == (None if delay is None else T0 + delay)


def test_the_setting_defaults_to_both_events() -> None:
    hook = ResultsWebhook(url="https://crm.example/hook", secret_env="CRM_SECRET")
    assert hook.events == ["lead_finished", "attempt_ended"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "ftp://x", "secret_env": "S"}, r"is not an http\(s\) URL"),
        ({"url": "http://x", "secret_env": "not a name"}, "environment variable"),
        ({"url": "http://x", "secret_env": "S", "events": []}, "at least 1"),
        ({"url": "http://x", "secret_env": "S", "events": ["lead_called"]}, "lead_finished"),
        ({"url": "http://x", "secret_env": "S", "secret": "x"}, "Extra inputs"),
        (
            {"url": "http://x", "secret_env": "S", "events": ["lead_finished"] * 2},
            "lead_finished is listed twice",
        ),
    ],
)
def test_the_setting_refuses_bad_values(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ResultsWebhook.model_validate(data)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://crm.example.com/hook", None),
        ("http://127.0.0.1:8080/hook?a=b", None),
        ("http://[::1]:8080/x", None),
        ("http://127.0.0.1:99999/", "port is not a number in 1-65535"),
        ("http://h:0/", "port 0 is not in 1-65535"),
        ("http://h:abc/", "port is not a number"),
        ("http://[::1/x", "is not a URL"),
        ("http:///x", "has no valid host"),
        ("http://exa mple.com/", "has no valid host"),
        ("ftp://x", r"is not an http\(s\) URL"),
        ("http:x", r"is not an http\(s\) URL"),
        ("http://alice:secret@crm.example/", "credentials in the signature secret"),
    ],
)
def test_a_webhook_url_httpx_cannot_send_to_is_refused(url: str, problem: str | None) -> None:
    """Refused when read (it once broke every campaign's deliveries at send time)."""
    said = url_problem(url)
    if problem is None:
        assert said is None
    else:
        assert said is not None and re.search(problem, said) and "\n" not in said
        assert "secret@" not in said  # a URL's password is never repeated


def test_a_missing_secret_is_named_never_shown() -> None:
    hook = ResultsWebhook(url="http://x", secret_env="CRM_SECRET")
    assert missing_secret(hook, {"CRM_SECRET": "hunter2"}) is None
    assert missing_secret(None, {}) is None
    said = missing_secret(hook, {"CRM_SECRET": ""})
    assert said is not None and "CRM_SECRET" in said and "\n" not in said


def test_a_setting_read_back_from_the_store_stays_readable() -> None:
    """A URL stored before such URLs were refused: its events fail alone (dialer.reporting)."""
    data = {"url": "http://[::1/x", "secret_env": "S", "events": ["attempt_ended"] * 2}
    hook = ResultsWebhook.model_validate(data, context=FROM_STORE)
    assert hook.url == "http://[::1/x" and hook.events == ["attempt_ended"]
