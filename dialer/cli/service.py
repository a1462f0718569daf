"""Commands for dialer as a service: the HTTP API alone (`dialer serve`) and its bearer tokens
(`dialer token create|list|revoke`)."""

from __future__ import annotations

import re
import sys

import click

from dialer.cli.main import database_option, main, run_async
from dialer.domain.exit_codes import ExitCode

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
