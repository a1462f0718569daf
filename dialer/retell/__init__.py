"""Retell v2 call API: a typed async client (client.py), what a create's answer proves
(create_answers.py), what can go wrong (errors.py), whether Retell answers (recovery.py), its
models, webhook signatures and the API key."""

from dialer.retell.client import DEFAULT_READS_PER_SECOND, MAX_PAGE, RetellClient
from dialer.retell.create_answers import Ambiguous, CreateOutcome, Fatal, NotPlaced, Placed
from dialer.retell.errors import (
    RetellBodyError,
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
