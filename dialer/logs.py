"""structlog, configured once, at the edge (the CLI)."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(fmt: str = "auto", level: str | None = None) -> bool:
    """Set up structlog for this process; returns True when logs are JSON lines on stderr.
    JSON lines carry INFO and up; a terminal shows WARNING and up beside the progress display."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    level = level or ("INFO" if as_json else "WARNING")
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    return as_json
