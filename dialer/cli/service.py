"""Commands for dialer as a service: the HTTP API alone (`dialer serve`) and its bearer tokens
(`dialer token create|list|revoke`)."""

from __future__ import annotations

import re
import sys

import click

from dialer.cli.main import (
    PORT,
    clock_from_env,
    database_option,
    host_option,
    log_format_option,
    main,
    outage_option,
    run_async,
)
from dialer.domain.exit_codes import ExitCode, for_signal
from dialer.retell.settings import http_token_from_env

_TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


@main.group()
def token() -> None:
    """Bearer tokens of the HTTP API: shown once, stored as a digest only."""


def _checked_name(name: str) -> str:
    if not _TOKEN_NAME.fullmatch(name):
        click.echo(
            f"token name {name!r}: use 1-100 letters, digits, '.', '_', '@' or '-', "
            "beginning with a letter or a digit",
            err=True,
        )
        sys.exit(ExitCode.INVALID)
    return name


@token.command("create")
@click.argument("name")
@click.option("--read-only", is_flag=True, help="May only read (any write answers 403).")
@database_option
def token_create(name: str, read_only: bool, database_url: str | None) -> None:
    """Make a token named NAME and print it (on standard output, alone). It is shown this once:
    the store keeps only a digest of it."""
    from dialer.store import TokenExistsError, open_store

    _checked_name(name)

    async def go() -> str | None:
        store = await open_store(database_url)
        try:
            return await store.create_token(name, read_only=read_only)
        except TokenExistsError:
            return None
        finally:
            await store.close()

    made = run_async(go, database_url)
    if made is None:
        click.echo(
            f"a token named {name!r} exists already: `dialer token revoke {name}` first, "
            "or choose another name",
            err=True,
        )
        sys.exit(ExitCode.INVALID)
    click.echo(made)
    kind = "read-only" if read_only else "read-write"
    click.echo(
        f"token {name!r} ({kind}) created; it is shown this once (the store keeps only a "
        "digest): send it as `Authorization: Bearer <token>`",
        err=True,
    )


@token.command("list")
@database_option
def token_list(database_url: str | None) -> None:
    """The tokens (name, access, created); never a token itself."""
    from dialer.store import ApiToken, open_store

    async def go() -> list[ApiToken]:
        store = await open_store(database_url)
        try:
            return await store.tokens()
        finally:
            await store.close()

    tokens = run_async(go, database_url)
    if not tokens:
        click.echo("no API tokens yet: `dialer token create NAME [--read-only]`", err=True)
    for made in tokens:
        access = "read-only" if made.read_only else "read-write"
        click.echo(f"{made.name}\t{access}\tcreated {made.created_at:%Y-%m-%d %H:%M} UTC")


@token.command("revoke")
@click.argument("name")
@database_option
def token_revoke(name: str, database_url: str | None) -> None:
    """Refuse the token named NAME from now on (every server checks the store per request)."""
    from dialer.store import open_store

    async def go() -> bool:
        store = await open_store(database_url)
        try:
            return await store.revoke_token(name)
        finally:
            await store.close()

    if not run_async(go, database_url):
        click.echo(f"no token named {name!r} (`dialer token list` shows them)", err=True)
        sys.exit(ExitCode.INVALID)
    click.echo(f"token {name!r} revoked: requests with it answer 401 from now on")


@main.command()
@database_option
@click.option(
    "--port",
    type=PORT,
    default=8000,
    show_default=True,
    envvar="DIALER_API_PORT",
    help="Serve the API (/v1, /openapi.json, /docs), the dashboard with its controls, "
    "/metrics and the probes on this port. Env: DIALER_API_PORT.",
)
@host_option
@outage_option
@log_format_option("json")
def serve(
    database_url: str | None,
    port: int,
    host: str,
    store_outage_seconds: float,
    log_format: str,
) -> None:
    """Serve the HTTP API alone (no dialing) until SIGTERM; `dialer worker --http-port N`
    serves the same beside dialing. Every /v1 route needs a token: `dialer token create`."""
    from dialer.app.serve import ServeConfig, serve_api
    from dialer.observability.logs import configure_logging

    configure_logging(log_format)
    config = ServeConfig(
        database_url=database_url,
        port=port,
        host=host,
        http_token=http_token_from_env(),  # env only: a flag would show in `ps`
        store_outage_seconds=store_outage_seconds,
        clock=clock_from_env(logged=True),
    )
    signum = run_async(lambda: serve_api(config), database_url)
    sys.exit(for_signal(signum) if signum is not None else ExitCode.OK)
