"""Retell's own OpenAPI document (`../shared/retell-openapi.yaml` beside the checkout, or
DIALER_RETELL_OPENAPI), and hypothesis strategies for the bodies its schemas allow. Tests that
use it skip when the document is absent (a user's clone has no ../shared)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import strategies as st

_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "retell-openapi.yaml"
SPEC_PATH = Path(os.environ.get("DIALER_RETELL_OPENAPI", _DEFAULT))
_MAX_DEPTH = 6


@cache
def document() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"Retell's OpenAPI document is not at {SPEC_PATH}")
    with SPEC_PATH.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def schemas() -> dict[str, Any]:
    components: dict[str, Any] = document()["components"]["schemas"]
    return components


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a top-level $ref followed."""
    while "$ref" in schema:
        schema = schemas()[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """An allOf of object schemas as one object schema."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for given_part in parts:
        part = resolve(given_part)
        if "allOf" in part:
            part = _merged(part["allOf"])
        properties.update(part.get("properties", {}))
        required += part.get("required", [])
    return {"type": "object", "properties": properties, "required": required}


def bodies(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values `schema` allows (OpenAPI 3.0: nullable, allOf, oneOf, anyOf, enum, $ref)."""
    schema = resolve(schema)
    strategy = _bodies(schema, depth)
    if schema.get("nullable"):
        return st.one_of(st.none(), strategy)
    return strategy


def _bodies(schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if "allOf" in schema:
        return _bodies(_merged(schema["allOf"]), depth)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return st.one_of([bodies(option, depth + 1) for option in schema[key]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return st.text(max_size=12)
    if kind == "integer":
        return st.integers(min_value=0, max_value=2**53)
    if kind == "number":
        return st.one_of(st.integers(0, 10**9), st.floats(0, 1e9, allow_nan=False))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        if depth >= _MAX_DEPTH:
            return st.just([])
        return st.lists(bodies(schema.get("items", {}), depth + 1), max_size=2)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        if depth >= _MAX_DEPTH:
            properties = {k: v for k, v in properties.items() if k in required}
        return st.fixed_dictionaries(
            {k: bodies(v, depth + 1) for k, v in properties.items() if k in required},
            optional={k: bodies(v, depth + 1) for k, v in properties.items() if k not in required},
        )
    return st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))


def response_schema(path: str, method: str, status: str = "200") -> dict[str, Any]:
    """The JSON schema of one documented answer."""
    operation = document()["paths"][path][method]
    schema: dict[str, Any] = operation["responses"][status]["content"]["application/json"]["schema"]
    return schema
