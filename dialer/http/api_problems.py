"""How the API answers other than with success: RFC 9457 problem details, one answer per kind
of error (an input's problems all at once, with their rows and fields), and the responses each
route documents in the OpenAPI document."""

# No `from __future__ import annotations`: FastAPI reads annotations at runtime.

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from dialer.http.api_models import InputProblem, ProblemDetails
from dialer.inputs.problems import InputError, Problem
from dialer.store import StoreOutageError

PROBLEM_JSON = "application/problem+json"
PROBLEM = {"model": ProblemDetails, "content": {PROBLEM_JSON: {}}}
COMMON: dict[int | str, dict[str, Any]] = {
    401: {**PROBLEM, "description": "No token, or one unknown or revoked"},
    422: {**PROBLEM, "description": "The request's problems, every one"},
    503: {**PROBLEM, "description": "The store is not answering"},
}
WRITES: dict[int | str, dict[str, Any]] = {403: {**PROBLEM, "description": "A read-only token"}}
FOUND: dict[int | str, dict[str, Any]] = {404: {**PROBLEM, "description": "No such campaign"}}
BODY: dict[int | str, dict[str, Any]] = {
    413: {**PROBLEM, "description": "The body is too large"},
    415: {**PROBLEM, "description": "A body of another media type"},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {**PROBLEM, "description": "Not as the campaign stands (it was cancelled, …)"}
}


class ApiProblemError(Exception):
    """An answer other than success, as problem details."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        problems: list[Problem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = problems
        self.headers = headers


def problem_response(
    status: int,
    detail: str | None = None,
    problems: list[InputProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ProblemDetails(
        title=HTTPStatus(status).phrase, status=status, detail=detail, problems=problems
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=PROBLEM_JSON
    )


def _input_problems(problems: list[Problem]) -> list[InputProblem]:
    return [InputProblem(row=p.line, field=p.field, message=p.message) for p in problems]


def install_error_answers(api: FastAPI) -> None:
    async def api_problem(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblemError)
        shown = _input_problems(exc.problems) if exc.problems is not None else None
        return problem_response(exc.status, exc.detail, shown, exc.headers)

    async def input_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, InputError)
        count = len(exc.problems)
        detail = f"{count} problem(s) in the request; nothing was stored"
        return problem_response(422, detail, _input_problems(exc.problems))

    async def invalid_request(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [
            InputProblem(
                row=0,
                field=".".join(str(p) for p in error["loc"][1:]) or str(error["loc"][0]),
                message=str(error["msg"]),
            )
            for error in exc.errors()
        ]
        return problem_response(422, "the request is not as the API expects", problems)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(exc.status_code, exc.detail, headers=headers)

    async def outage(_: Request, exc: Exception) -> Response:
        return problem_response(503, str(exc))

    api.add_exception_handler(ApiProblemError, api_problem)
    api.add_exception_handler(InputError, input_error)
    api.add_exception_handler(RequestValidationError, invalid_request)
    api.add_exception_handler(HTTPException, http_error)
    api.add_exception_handler(StoreOutageError, outage)


def body_kind(request: Request, allowed: dict[str, tuple[str, ...]]) -> str:
    """Which of `allowed` (kind → media types) the body is, or 415."""
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    for kind, types in allowed.items():
        if given in types:
            return kind
    accepted = ", ".join(t for types in allowed.values() for t in types)
    raise ApiProblemError(415, f"send the body as one of: {accepted} (not {given or 'nothing'})")


def openapi_body(content: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": content}}
