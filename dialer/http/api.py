"""The HTTP API (FastAPI), mounted at `/v1` of the one app: campaigns put, read and steered,
leads added, results read page by page or streamed, the store-wide do-not-call list edited.
Its OpenAPI document is served at `/openapi.json`, and interactive docs at `/docs`.

Every `/v1` route needs a bearer token of the store (`dialer token create NAME`): none, an
unknown or a revoked one answers 401, a read-only one 403 on a write. Errors are RFC 9457
problem details; a body's problems come all at once (422), each with its row and field, and
nothing of it is stored. Every write is idempotent or safely repeated: a campaign is put by
name, leads are keyed by lead_id, pausing a paused campaign changes nothing.

The verbs are the commands' own (dialer.operations, dialer.reporting): this module maps them
to HTTP and nothing more."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime,
# and the token dependencies are local names.

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal

import structlog
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute, Mount, Route

from dialer import __version__
from dialer.domain.states import LeadState
from dialer.http.api_document import openapi_document
from dialer.http.api_models import (
    CampaignList,
    CampaignView,
    CampaignWritten,
    ControlOutcome,
    DoNotCallAdd,
    DoNotCallAdded,
    DoNotCallEntryView,
    DoNotCallPage,
    DoNotCallRemoved,
    LoadOutcome,
    ResultsPage,
)
from dialer.http.api_problems import (
    BODY,
    COMMON,
    CONFLICT,
    FOUND,
    PROBLEM,
    WRITES,
    ApiProblemError,
    body_kind,
    install_error_answers,
    openapi_body,
)
from dialer.http.server import Allowance
from dialer.inputs.bodies import campaign_body, lead_body
from dialer.operations import steering
from dialer.operations.intake import (
    CampaignNotFoundError,
    IntakeRefusedError,
    add_leads,
    checked_numbers,
    put_campaign,
)
from dialer.reporting.export import LEAD_FIELDS, export_chunks, shaped
from dialer.reporting.report import gather, render
from dialer.reporting.status import read_status
from dialer.store import ApiToken, DoNotCallEntry, Store

log = structlog.get_logger("dialer.api")

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"  # a campaign's name (its file's rule)
LEADSBODY_BYTES = 64 << 20  # CSV: about 1.5 million leads of a few columns
JSON_LEADS_BYTES = 8 << 20  # a JSON array is parsed whole: a larger list belongs in CSV
# A lead list sent, and an export or a report read, may take longer than a plain request.
ALLOWANCES = (
    Allowance(re.compile(r"/v1/campaigns/[^/]+/leads"), LEADSBODY_BYTES, 600.0),
    Allowance(re.compile(r"/v1/campaigns/[^/]+/(export|report)"), 1 << 20, 1800.0),
)
_YAML = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
CampaignName = Annotated[str, Path(pattern=NAME_PATTERN, description="The campaign's name")]
Number = Annotated[str, Path(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")]


def build_api(store: Store, now: Callable[[], datetime]) -> FastAPI:
    """The `/v1` app over `store`; `now` judges calling hours in the status it shows."""
    api = FastAPI(
        title="dialer",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        responses=COMMON,
    )
    install_error_answers(api)
    bearer = HTTPBearer(auto_error=False, description="`dialer token create NAME`")

    async def holder(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiToken:
        if store.availability.is_down:
            raise ApiProblemError(503, f"the store is not answering: {store.availability.reason}")
        challenge = {"WWW-Authenticate": 'Bearer realm="dialer"'}
        if credentials is None:
            raise ApiProblemError(
                401,
                "send Authorization: Bearer <token> (dialer token create NAME)",
                None,
                challenge,
            )
        found = await store.token_holder(credentials.credentials)
        if found is None:
            raise ApiProblemError(401, "that token is unknown or was revoked", None, challenge)
        request.state.token_name = found.name
        return found

    async def writer(token: Annotated[ApiToken, Depends(holder)]) -> ApiToken:
        if token.read_only:
            raise ApiProblemError(403, f"token {token.name!r} is read-only: it may only read")
        return token

    Reader = Annotated[ApiToken, Depends(holder)]  # noqa: N806 (a type)
    Writer = Annotated[ApiToken, Depends(writer)]  # noqa: N806 (a type)

    @api.middleware("http")
    async def audited(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        answer = await call_next(request)
        if request.method not in ("GET", "HEAD"):  # writes are logged, by token name only
            token = getattr(request.state, "token_name", None)
            log.info(
                "api_request",
                method=request.method,
                path=request.url.path,
                status=answer.status_code,
                token=token,
            )
        return answer

    async def views(name: str | None) -> list[CampaignView]:
        configs = {row.name: row.config for row in await store.campaigns()}
        return [
            CampaignView(**view.as_json(), settings=configs.get(view.name, {}))
            for view in await read_status(store, name, now(), experiments=True)
        ]

    async def one_view(name: str) -> CampaignView:
        found = await views(name)
        if not found:
            raise ApiProblemError(404, f"no campaign named {name!r}")
        return found[0]

    async def campaign_id(name: str) -> int:
        found = await store.campaign_id(name)
        if found is None:
            raise ApiProblemError(404, f"no campaign named {name!r}")
        return found

    @api.get("/campaigns", response_model=CampaignList, summary="Every campaign")
    async def list_campaigns(_: Reader) -> CampaignList:
        return CampaignList(campaigns=await views(None))

    @api.get(
        "/campaigns/{name}", response_model=CampaignView, responses=FOUND, summary="A campaign"
    )
    async def read_campaign(name: CampaignName, _: Reader) -> CampaignView:
        return await one_view(name)

    @api.put(
        "/campaigns/{name}",
        response_model=CampaignWritten,
        responses={201: {"model": CampaignWritten}, **WRITES, **BODY, **CONFLICT},
        summary="Create a campaign, or replace its settings",
        description="The campaign file's settings, as JSON or as the file's YAML text. Leads "
        "listed inline are added as POST …/leads adds them; `leads` naming a file, "
        "`suppress` files and a `from_numbers` file are refused (the API reads no files).",
        openapi_extra=openapi_body(
            {
                "application/json": {"schema": {"$ref": "#/components/schemas/Campaign"}},
                "application/yaml": {"schema": {"type": "string"}},
            }
        ),
    )
    async def write_campaign(name: CampaignName, request: Request, _: Writer) -> Response:
        kind = body_kind(request, {"json": ("application/json",), "yaml": _YAML})
        data, lines = campaign_body(await request.body(), yaml_text=kind == "yaml")
        try:
            done = await put_campaign(store, name, data, lines)
        except IntakeRefusedError as exc:
            raise ApiProblemError(409, str(exc)) from None
        leads = LoadOutcome.of(done.loaded.report) if done.loaded.report.in_file else None
        written = CampaignWritten(created=done.created, campaign=await one_view(name), leads=leads)
        return JSONResponse(written.model_dump(mode="json"), 201 if done.created else 200)

    async def steer(name: str, verb: Callable[[Store, str], Awaitable[str]]) -> ControlOutcome:
        await campaign_id(name)
        try:
            message = await verb(store, name)
        except steering.ControlRefusedError as exc:
            raise ApiProblemError(409, str(exc)) from None
        row = await store.campaign(name)
        assert row is not None
        return ControlOutcome(campaign=name, status=row.status.value, message=message)

    steered = {**FOUND, **WRITES, **CONFLICT}

    def steering_route(verb: Callable[[Store, str], Awaitable[str]], summary: str) -> None:
        async def steer_campaign(name: CampaignName, _: Writer) -> ControlOutcome:
            return await steer(name, verb)

        api.add_api_route(
            f"/campaigns/{{name}}/{verb.__name__}",
            steer_campaign,
            methods=["POST"],
            response_model=ControlOutcome,
            responses=steered,
            summary=summary,
            name=verb.__name__,
        )

    steering_route(steering.pause, "No new calls (live ones end)")
    steering_route(steering.resume, "Dial again")
    steering_route(steering.cancel, "Give up the waiting leads")

    @api.post(
        "/campaigns/{name}/leads",
        response_model=LoadOutcome,
        responses={**FOUND, **WRITES, **BODY, **CONFLICT},
        summary="Add leads (CSV, or a JSON array)",
        description="Validated as a lead file is: on any problem, every problem (422) and "
        "nothing stored. Keyed by lead_id (else the number): sending a lead again changes "
        "nothing, an edited one follows the list-edit rules of a reloaded file. Leads not in "
        "the body stay as they are.",
        openapi_extra=openapi_body(
            {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/LeadItem"},
                    }
                },
            }
        ),
    )
    async def add(name: CampaignName, request: Request, token: Writer) -> LoadOutcome:
        kind = body_kind(request, {"csv": ("text/csv",), "json": ("application/json",)})
        body = await request.body()
        if kind == "json" and len(body) > JSON_LEADS_BYTES:
            raise ApiProblemError(
                413, f"a JSON lead list over {JSON_LEADS_BYTES >> 20} MiB: send it as CSV"
            )
        try:
            loaded = await add_leads(store, name, lead_body(body, csv=kind == "csv"))
        except CampaignNotFoundError:
            raise ApiProblemError(404, f"no campaign named {name!r}") from None
        except IntakeRefusedError as exc:
            raise ApiProblemError(409, str(exc)) from None
        log.info("api_leads_added", campaign=name, token=token.name, leads=loaded.leads_in_file)
        return LoadOutcome.of(loaded.report)

    @api.get(
        "/campaigns/{name}/results",
        response_model=ResultsPage,
        responses=FOUND,
        summary="Lead results, a page at a time",
    )
    async def results(
        name: CampaignName,
        _: Reader,
        state: LeadState | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    ) -> ResultsPage:
        found = await campaign_id(name)
        after = int(cursor) if cursor is not None else None
        rows, last = await store.lead_rows_page(found, state, after, limit)
        items = [shaped(row, LEAD_FIELDS) for row in rows]
        return ResultsPage.model_validate(
            {"items": items, "next_cursor": None if last is None else str(last)}
        )

    @api.get(
        "/campaigns/{name}/export",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/csv": {}, "application/x-ndjson": {}}},
            **FOUND,
        },
        summary="The export, streamed (as `dialer export`)",
    )
    async def export(
        name: CampaignName,
        _: Reader,
        format: Literal["csv", "jsonl"] = "csv",
        attempts: bool = False,
        raw: bool = False,
    ) -> StreamingResponse:
        found = await campaign_id(name)
        chunks = export_chunks(store, found, format, per_attempt=attempts, raw=raw)
        media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
        filename = f"{name}{'-attempts' if attempts else ''}.{format}"
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        return StreamingResponse(chunks, media_type=media, headers=disposition)

    @api.get(
        "/campaigns/{name}/report",
        response_class=HTMLResponse,
        responses=FOUND,
        summary="The HTML report (as `dialer report`)",
    )
    async def report(name: CampaignName, _: Reader) -> HTMLResponse:
        row = await store.campaign(name)
        if row is None:
            raise ApiProblemError(404, f"no campaign named {name!r}")
        return HTMLResponse(render(row, await gather(store, row), now()))

    def entry(found: DoNotCallEntry) -> DoNotCallEntryView:
        return DoNotCallEntryView(
            to_number=found.to_number,
            reason=found.reason,
            source=found.source,
            created_at=found.created_at,
        )

    @api.get("/do-not-call", response_model=DoNotCallPage, summary="The do-not-call list")
    async def do_not_call(
        _: Reader,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(pattern=r"^\+[0-9]{1,15}$")] = None,
    ) -> DoNotCallPage:
        found = await store.do_not_call_page(cursor, limit + 1)
        page = found[:limit]
        more = len(found) > limit
        return DoNotCallPage(
            items=[entry(e) for e in page], next_cursor=page[-1].to_number if more else None
        )

    @api.post(
        "/do-not-call",
        response_model=DoNotCallAdded,
        responses=WRITES,
        summary="Put numbers on it (no campaign calls them from the next claim on)",
    )
    async def add_do_not_call(body: DoNotCallAdd, token: Writer) -> DoNotCallAdded:
        numbers = checked_numbers(body.numbers, body.region)
        added = await store.add_do_not_call(numbers, body.reason, f"api token {token.name}")
        log.info("api_do_not_call_added", numbers=len(numbers), added=added, token=token.name)
        return DoNotCallAdded(added=added, numbers=numbers)

    @api.get(
        "/do-not-call/{number}",
        response_model=DoNotCallEntryView,
        responses={404: {**PROBLEM, "description": "Not on the list"}},
        summary="Whether a number is on it",
    )
    async def do_not_call_number(number: Number, _: Reader) -> DoNotCallEntryView:
        found = await store.do_not_call_entry(checked_numbers([number], None)[0])
        if found is None:
            raise ApiProblemError(404, f"{number} is not on the do-not-call list")
        return entry(found)

    @api.delete(
        "/do-not-call/{number}",
        response_model=DoNotCallRemoved,
        responses=WRITES,
        summary="Take a number off it (leads skipped for it stay skipped)",
    )
    async def remove_do_not_call(number: Number, token: Writer) -> DoNotCallRemoved:
        normalized = checked_numbers([number], None)[0]
        removed = await store.remove_do_not_call(normalized)
        log.info("api_do_not_call_removed", removed=removed, token=token.name)
        return DoNotCallRemoved(to_number=normalized, removed=removed)

    return api


def api_routes(store: Store, now: Callable[[], datetime]) -> list[BaseRoute]:
    """The API at /v1, its document at /openapi.json and its docs at /docs (both open: they
    hold no data), for `create_app(routes=…)`."""
    api = build_api(store, now)
    document = openapi_document(api)

    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    async def docs(_: Request) -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="dialer API")

    return [
        Mount("/v1", app=api),
        Route("/openapi.json", openapi),
        Route("/docs", docs),
    ]
