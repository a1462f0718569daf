"""Retell's CallFilter conditions as the simulator applies them: string filters (eq, ne, sw,
ew, co) and number or range filters (ms)."""

from __future__ import annotations

from typing import Any


def string_match(value: str, condition: dict[str, Any]) -> bool:
    op, expected = condition.get("op", "eq"), str(condition.get("value", ""))
    if op == "eq":
        return value == expected
    if op == "ne":
        return value != expected
    if op == "sw":
        return value.startswith(expected)
    if op == "ew":
        return value.endswith(expected)
    if op == "co":
        return expected in value
    return False


def number_match(value: int | None, condition: dict[str, Any]) -> bool:
    """Retell's NumberFilter (eq, ne, gt, ge, lt, le) or RangeFilter (bt, inclusive)."""
    if value is None:
        return False
    op, expected = condition.get("op"), condition.get("value")
    if op == "bt" and isinstance(expected, list) and len(expected) == 2:
        return bool(expected[0] <= value <= expected[1])
    if not isinstance(expected, int | float):
        return False
    return {
        "eq": value == expected,
        "ne": value != expected,
        "gt": value > expected,
        "ge": value >= expected,
        "lt": value < expected,
        "le": value <= expected,
    }.get(str(op), False)
