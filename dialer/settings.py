"""Settings from the environment. The API key is kept in a wrapper that never prints it."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_BASE_URL = "https://api.retellai.com"


class ApiKey:
    """The Retell API key. `str()`/`repr()` never show it; use `.reveal()` for the header only."""

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
