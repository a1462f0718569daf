"""The one ASGI app every listener serves (Starlette), built from the parts a listener offers:

- monitoring: `/healthz` and `/readyz` (open: a container's probes), `/metrics` (Prometheus
  text) and, with a status source, the dashboard at `/` and its data at `/status.json`;
- Retell's webhook events: POST on any path no other route takes, signed with the API key;
- routes a caller mounts (`routes`), matched before the webhook catch-all.

With a token (DIALER_HTTP_TOKEN), `/metrics`, `/` and `/status.json` need
`Authorization: Bearer <token>`. A browser opens `/?token=<token>` once: it is answered with a
session cookie (HttpOnly, SameSite=Strict, derived from the token, never the token itself) and
sent on to `/`, so the address bar, history and reloads no longer carry the token."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dialer.observability.metrics import CONTENT_TYPE, METRICS
from dialer.reporting.dashboard import StatusSource, page, status_json
from dialer.retell.webhooks import SIGNATURE_HEADER, BadEventError, CallEvent, parse_event, verify

log = structlog.get_logger("dialer.http")

# (healthy, details); details are shown as JSON.
HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]
EventSink = Callable[[CallEvent], Awaitable[None]]
SESSION_COOKIE = "dialer_session"
_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# The webhook catch-all takes every method, so that anything but a POST is a plain 404.
_EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Monitoring:
    """The probes, /metrics, and the dashboard when `status` is given."""

    live: HealthCheck
    ready: HealthCheck
    status: StatusSource | None = None
    # the dashboard's pause/resume/cancel buttons (the API is served beside it)
    controls: bool = False


@dataclass(frozen=True)
class Webhooks:
    """Retell's call events, checked against `api_key`'s signature, handed to `on_event`."""

    api_key: str = field(repr=False)
    on_event: EventSink
    now_ms: Callable[[], int] = _wall_ms


class _Guard:
    """The optional bearer token, compared in constant time; never logged."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None
        self.session = (
            hmac.new(self._token, b"dialer dashboard session", hashlib.sha256).hexdigest()
            if self._token
            else ""
        )

    def admits(self, request: Request, *, cookie: bool = False) -> bool:
        if self._token is None:
            return True
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token):
            return True
        session = request.cookies.get(SESSION_COOKIE, "") if cookie else ""
        return bool(session) and hmac.compare_digest(session.encode(), self.session.encode())

    def token_matches(self, given: str) -> bool:
        return self._token is not None and hmac.compare_digest(given.encode(), self._token)


def _unauthorized(hint: str) -> Response:
    return PlainTextResponse(
        f"unauthorized: {hint}\n", 401, headers={"WWW-Authenticate": 'Bearer realm="dialer"'}
    )


def _monitoring_routes(parts: Monitoring, guard: _Guard) -> list[BaseRoute]:
    def probe(check: HealthCheck) -> Callable[[Request], Awaitable[Response]]:
        async def answer(_: Request) -> Response:
            healthy, details = await check()
            body = json.dumps({"ok": healthy, **details})
            return Response(body, 200 if healthy else 503, media_type="application/json")

        return answer

    async def metrics(request: Request) -> Response:
        if not guard.admits(request):
            return _unauthorized("send Authorization: Bearer <DIALER_HTTP_TOKEN>")
        return Response(METRICS.render(), headers={"Content-Type": CONTENT_TYPE})

    routes: list[BaseRoute] = [
        Route("/healthz", probe(parts.live)),
        Route("/readyz", probe(parts.ready)),
        Route("/metrics", metrics),
    ]
    status = parts.status
    if status is None:
        return routes

    shown = page(controls=parts.controls)

    async def dashboard(request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            if not guard.token_matches(given):
                return _unauthorized("that is not this dashboard's token")
            sent_on = RedirectResponse("./", 303, headers=_PAGE_HEADERS)
            sent_on.set_cookie(SESSION_COOKIE, guard.session, httponly=True, samesite="strict")
            return sent_on
        if not guard.admits(request, cookie=True):
            return _unauthorized("open this page once as /?token=<DIALER_HTTP_TOKEN>")
        return Response(shown, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    async def data(request: Request) -> Response:
        if not guard.admits(request, cookie=True):
            return _unauthorized("send Authorization: Bearer <DIALER_HTTP_TOKEN>")
        body = status_json(await status())
        return Response(body, media_type="application/json", headers=_PAGE_HEADERS)

    return [*routes, Route("/", dashboard), Route("/status.json", data)]


def _webhook_route(parts: Webhooks) -> BaseRoute:
    """Any path, POST. A bad signature gets 401 (and is logged); a body this version does not
    understand gets 400; an accepted event 204 once it is recorded."""

    async def receive(request: Request) -> Response:
        if request.method != "POST":
            return PlainTextResponse("not found\n", 404)
        body = await request.body()
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not verify(body.decode("utf-8", "replace"), parts.api_key, signature, parts.now_ms()):
            log.warning("webhook_refused", reason="bad or stale signature", path=request.url.path)
            return Response(status_code=401)
        try:
            event = parse_event(body)
        except BadEventError as exc:
            log.warning("webhook_refused", reason=str(exc))
            return PlainTextResponse(str(exc), 400)
        await parts.on_event(event)
        return Response(status_code=204)

    return Route("/{path:path}", receive, methods=_EVERY_METHOD)


def create_app(
    *,
    monitoring: Monitoring | None = None,
    webhooks: Webhooks | None = None,
    token: str | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """One listener's app: the parts it offers, `routes` before the webhook catch-all."""
    guard = _Guard(token)
    served: list[BaseRoute] = [*routes]
    if monitoring is not None:
        served += _monitoring_routes(monitoring, guard)
    if webhooks is not None:
        served.append(_webhook_route(webhooks))
    return Starlette(routes=served)
