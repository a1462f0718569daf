"""Settings from the environment. The API key is kept in a wrapper that never prints it."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_BASE_URL = "https://api.retellai.com"


class ApiKey:
    """A secret: the Retell API key, or the HTTP token (DIALER_HTTP_TOKEN). `str()`/`repr()`
    never show it; use `.reveal()` where it is sent or compared only."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "ApiKey('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class RetellSettings:
    api_key: ApiKey
    base_url: str


def retell_settings_from_env() -> RetellSettings | None:
    """None when RETELL_API_KEY is not set."""
    key = os.environ.get("RETELL_API_KEY", "").strip()
    if not key:
        return None
    base = os.environ.get("RETELL_BASE_URL", "").strip() or DEFAULT_BASE_URL
    return RetellSettings(api_key=ApiKey(key), base_url=base.rstrip("/"))


def http_token_from_env() -> ApiKey | None:
    """DIALER_HTTP_TOKEN, the bearer token of the dashboard and /metrics; None when unset."""
    token = os.environ.get("DIALER_HTTP_TOKEN", "").strip()
    return ApiKey(token) if token else None
