"""In-memory fakes of the dialing ports (dialer.dialing.ports) and a virtual clock: the
runner, the follower and the calling gate run against them in milliseconds on trio's
MockClock (tests/dialing/). The store's fake is held to the real store by
tests/store/test_port_conformance.py; mypy checks that both fakes implement their ports."""

from __future__ import annotations

from dialer.dialing.ports import CallApi, ServingStore

from .call_api import CreateFault, Ending, Faults, MemoryCallApi
from .clock import TUESDAY_AFTERNOON, VirtualTime, VirtualWallClock
from .store import MemoryStore


def _implements_the_ports(store: MemoryStore, api: MemoryCallApi) -> tuple[ServingStore, CallApi]:
    return store, api  # mypy refuses this line if a fake drifts from its port


__all__ = [
    "TUESDAY_AFTERNOON",
    "CreateFault",
    "Ending",
    "Faults",
    "MemoryCallApi",
    "MemoryStore",
    "VirtualTime",
    "VirtualWallClock",
]
