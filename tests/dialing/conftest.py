"""The fast runner tests: the dialing package against the in-memory fakes (tests/fakes) on
trio's MockClock. Every sleep jumps the clock at once (autojump), so a campaign of hundreds of
calls and hours of virtual time runs in milliseconds; nothing here waits on the real clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from trio.testing import MockClock

from .harness import Rig


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    # A fresh clock per test: virtual time starts at 0 and moves only when every task waits.
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with structlog.testing.capture_logs() as logs:  # kept, not printed: hundreds of calls each
        yield Rig(tmp_path, logs)
