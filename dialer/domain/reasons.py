"""Retell's disconnection reasons, grouped by what they mean for a lead, and the names a
campaign file may use for them (`retry_on`, `breaker.failures`, `number_health.failures`).

The one list of known reasons (retell-api.md): the current API's, plus the seed era's
`machine_detected`, `error_frontend_corrupted_payload` and `error_twilio`.
"""

from __future__ import annotations

from dialer.domain.spelling import closest

# retell-api.md, "Outcomes a dialer should treat alike".
ACCOUNT_BROKEN = frozenset(
    {
        "no_valid_payment",
        "credit_exhausted",
        "budget_reached",
        "telephony_provider_permission_denied",
        "sip_routing_error",
        "marked_as_spam",
    }
)
# Our own account was over its concurrency: the callee never heard a ring.
OVER_ACCOUNT_CONCURRENCY = frozenset({"concurrency_limit_reached", "no_concurrency_fallback"})
NEVER_CONNECTED = frozenset(
    {
        "dial_no_answer",
        "dial_busy",
        "dial_failed",
        "invalid_destination",
        "user_declined",
        "telephony_provider_unavailable",
        "network_blocked",
        "registered_call_timeout",
        "scam_detected",
        *OVER_ACCOUNT_CONCURRENCY,
    }
)
REACHED = frozenset(
    {
        "user_hangup",
        "agent_hangup",
        "call_transfer",
        "transfer_bridged",
        "transfer_cancelled",
        "inactivity",
        "max_duration_reached",
        "user_requested_dnc",
        "user_requested_callback",
        "voicemail_reached",
        "machine_detected",
        "ivr_reached",
        "manual_stopped",
        "call_take_over",
    }
)
# Reasons whose call never connected (Retell reports status not_connected): the callee's line
# never answered, or the account or number was refused before it rang.
ENDS_UNCONNECTED = NEVER_CONNECTED | (ACCOUNT_BROKEN - {"credit_exhausted", "budget_reached"})
# Every reason but the error_* ones.
KNOWN_REASONS = REACHED | NEVER_CONNECTED | ACCOUNT_BROKEN
ERROR_REASONS = frozenset(
    {
        "error_llm_websocket_open",
        "error_llm_websocket_lost_connection",
        "error_llm_websocket_runtime",
        "error_llm_websocket_corrupt_payload",
        "error_no_audio_received",
        "error_asr",
        "error_retell",
        "error_unknown",
        "error_user_not_joined",
        "error_frontend_corrupted_payload",  # seed era
        "error_twilio",  # seed era
    }
)
DISCONNECTION_REASONS = KNOWN_REASONS | ERROR_REASONS
# `error`: status error, every error_* reason, and reasons this version does not know.
ANY_ERROR = "error"
OUTCOME_NAMES = DISCONNECTION_REASONS | {ANY_ERROR}


def check_outcome_name(name: str, choices: frozenset[str] = OUTCOME_NAMES) -> str:
    """`name` as given, or ValueError saying it is not a reason, with a did-you-mean."""
    if name in choices:
        return name
    guess = closest(name, choices)
    hint = f"did you mean {guess}?" if guess else "the README lists the reasons"
    raise ValueError(f"{name} is not a reason; {hint}")
