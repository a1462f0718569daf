"""Retell v2 call API: a typed async client and the outcome of a create request."""

from dialer.retell.client import (
    DEFAULT_READS_PER_SECOND,
    MAX_PAGE,
    Ambiguous,
    CreateOutcome,
    Fatal,
    NotPlaced,
    Placed,
    RetellBodyError,
    RetellClient,
    RetellError,
    RetellStatusError,
    RetellTransportError,
    RetellUnreachableError,
)
from dialer.retell.models import Concurrency, CreateCallRequest, ListCallsPage, PhoneCall

__all__ = [
    "DEFAULT_READS_PER_SECOND",
    "MAX_PAGE",
    "Ambiguous",
    "Concurrency",
    "CreateCallRequest",
    "CreateOutcome",
    "Fatal",
    "ListCallsPage",
    "NotPlaced",
    "PhoneCall",
    "Placed",
    "RetellBodyError",
    "RetellClient",
    "RetellError",
    "RetellStatusError",
    "RetellTransportError",
    "RetellUnreachableError",
]
