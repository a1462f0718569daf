"""structlog, configured once, at the edge (the CLI)."""

from __future__ import annotations

import logging
import sys

import structlog

from dialer.phones import mask_number


class _Settings:
    """Set once by configure_logging."""

    full_numbers = False
    json = False


def loggable_number(e164: str) -> str:
    """A phone number as logs show it: masked to its last 4 digits unless --log-numbers."""
    return e164 if _Settings.full_numbers else mask_number(e164)


def configure_logging(
    fmt: str = "auto", level: str | None = None, *, show_numbers: bool = False
) -> bool:
    """Set up structlog for this process; returns True when logs are JSON lines on stderr.
    JSON lines carry INFO and up; a terminal shows WARNING and up beside the progress display."""
    _Settings.full_numbers = show_numbers
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    _Settings.json = as_json
    level = level or ("INFO" if as_json else "WARNING")
    renderers: list[structlog.types.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if as_json
        else [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    return as_json


def log_failure(message: str, failure: BaseException) -> None:
    """An operational failure that ends the process: in JSON logs with its traceback (a
    terminal gets the one-line message from the CLI instead)."""
    if _Settings.json:
        structlog.get_logger("dialer").error("stopped", error=message, exc_info=failure)
