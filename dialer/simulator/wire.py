"""The simulator's HTTP side of Retell's API: a reply, Retell's error shape, and the checks of a
request body that Retell answers 400 or 422."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_E164 = re.compile(r"\+[1-9]\d{6,14}")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection instead of answering
    raw: bytes | None = None  # send these bytes as the body instead of `body` as JSON
    delay: float = 0.0


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"status": "error", "message": message}, headers or {})


def json_object(raw: bytes) -> dict[str, Any] | Reply:
    try:
        body = json.loads(raw)
    except ValueError:
        return error_reply(400, "Invalid JSON body")
    if not isinstance(body, dict):
        return error_reply(400, "The body must be a JSON object")
    return body


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def list_request_problem(body: dict[str, Any]) -> str | None:
    """What is wrong with a list-calls body by Retell's V3ListCallsRequest schema, if anything
    (the simulator answers 400 as Retell does, never fails on a field of the wrong type)."""
    limit, skip = body.get("limit", 50), body.get("skip", 0)
    if not isinstance(body.get("filter_criteria") or {}, dict):
        return "filter_criteria must be an object"
    if not is_int(limit) or not 1 <= limit <= 1000:
        return "limit must be an integer from 1 to 1000"
    if not is_int(skip) or skip < 0:
        return "skip must be an integer of at least 0"
    if body.get("sort_order", "descending") not in ("ascending", "descending"):
        return "sort_order must be ascending or descending"
    if not isinstance(body.get("pagination_key", ""), str):
        return "pagination_key must be a string"
    if "skip" in body and "pagination_key" in body:
        return "give skip or pagination_key, not both"
    if not isinstance(body.get("include_total", False), bool):
        return "include_total must be a boolean"
    return None


def create_body_problem(body: dict[str, Any]) -> Reply | None:
    for name in ("from_number", "to_number"):
        value = body.get(name)
        if not isinstance(value, str) or not value:
            return error_reply(400, f"{name} is required")
        if not _E164.fullmatch(value):
            return error_reply(400, f"{name} must be in E.164 format, got {value}")
    variables = body.get("retell_llm_dynamic_variables")
    if variables is not None:
        if not isinstance(variables, dict):
            return error_reply(422, "retell_llm_dynamic_variables must be an object")
        for key, value in variables.items():
            if not isinstance(value, str):
                return error_reply(422, f"retell_llm_dynamic_variables.{key} must be a string")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return error_reply(422, "metadata must be an object")
    version = body.get("override_agent_version")
    if version is not None and not (
        (is_int(version) and version >= 0) or _TAG.fullmatch(str(version))
    ):
        return error_reply(400, "override_agent_version must be a version number or a tag")
    return None


def endpoint_name(method: str, path: str) -> str:
    """create-phone-call, get-call, list-calls (v3), list-calls-v2, get-concurrency, …"""
    if GET_CALL.fullmatch(path):
        return "get-call"
    if path == "/v2/list-calls":
        return "list-calls-v2"
    if not path.startswith("/v") and path.count("/") > 1:
        return path.strip("/").split("/")[0]  # get-agent, get-phone-number, …
    name = path.strip("/").split("/")[-1]
    return name or method.lower()


_TAG = re.compile(r"latest|latest_published|(?!v\d+$)[a-z][a-z0-9_-]{0,19}")
GET_CALL = re.compile(r"/v2/get-call/([^/]+)")


def from_json_file(path: Path, make: Callable[[object], T]) -> T:
    """`make` of a JSON file's content; ValueError naming the file when it cannot be used."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    try:
        return make(config)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
