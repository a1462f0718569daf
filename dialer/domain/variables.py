"""Retell's dynamic variables: strings, whatever a campaign file or a lead row wrote."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator


def stringify_variable(value: object) -> str:
    """Retell's dynamic variables are strings; scalars are written the way YAML spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    kind = (
        "a mapping"
        if isinstance(value, dict)
        else "a list"
        if isinstance(value, list)
        else type(value).__name__
    )
    raise ValueError(f"must be a string, number or boolean, not {kind}")


def _string_variables(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of name: value")
    out: dict[str, str] = {}
    for key, item in value.items():
        try:
            out[str(key)] = stringify_variable(item)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return out


StringVariables = Annotated[dict[str, str], BeforeValidator(_string_variables)]
