"""The exit codes of every `dialer` command, defined once (README: Exit codes)."""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # done: every lead is completed, failed or skipped
    RUNTIME = 1  # a runtime failure, or the campaign is paused
    INVALID = 2  # invalid input: nothing was stored or dialed
    ACCOUNT = 3  # Retell refused the key or the account (401/402/403)
    SIGINT = 130  # stopped by SIGINT after a clean shutdown
    SIGTERM = 143  # stopped by SIGTERM after a clean shutdown
    BROKEN_PIPE = 141  # the reader of standard output went away (128 + SIGPIPE, as Unix tools)


def for_signal(signum: int | None) -> ExitCode:
    """143 after SIGTERM, 130 after SIGINT (128 + the signal's number)."""
    return ExitCode.SIGTERM if signum == signal.SIGTERM else ExitCode.SIGINT
