"""The `dialer` command line: parses flags, wires the parts together, maps errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import anyio
import click

from dialer.campaign import load_campaign
from dialer.load import scan_leads, sorted_problems
from dialer.problems import InputError

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_INVALID = 2
EXIT_ACCOUNT = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

T = TypeVar("T")


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(fn)


def _print_problems(problems: Sequence[object], total: int | None = None) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
    if total is not None and total > len(problems):
        click.echo(f"… and {total - len(problems)} more problems", err=True)


database_option = click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=None,
    help="The store (default: sqlite+aiosqlite:///dialer.db). Env: DATABASE_URL.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dialer")
def main() -> None:
    """Run outbound phone-call campaigns through Retell AI; nobody is called twice by mistake."""


@main.command()
@click.argument("campaign_file", type=click.Path(path_type=Path))
def validate(campaign_file: Path) -> None:
    """Check a campaign and every lead; print each problem as FILE:LINE: field: message."""
    try:
        loaded = load_campaign(campaign_file)
    except InputError as exc:
        _print_problems(sorted_problems(exc.problems))
        sys.exit(EXIT_INVALID)
    scan = scan_leads(loaded)
    if scan.problem_count:
        _print_problems(list(sorted_problems(scan.problems)), scan.problem_count)
        click.echo(f"{scan.problem_count} problem(s); nothing was stored or dialed", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"{campaign_file}: ok — campaign {loaded.campaign.name!r}, {scan.leads} leads")


@main.group()
def db() -> None:
    """Manage the store's schema."""


@db.command("upgrade")
@database_option
@click.option("--revision", default="head", show_default=True, help="Target migration.")
def db_upgrade(database_url: str | None, revision: str) -> None:
    """Apply migrations (safe to run from several containers at once)."""
    from dialer.store.engine import create_engine, upgrade
    from dialer.store.engine import database_url as resolve

    url = resolve(database_url)

    async def go() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine, revision)
        finally:
            await engine.dispose()

    run_async(go)
    from sqlalchemy.engine import make_url

    click.echo(f"store {make_url(url).render_as_string(hide_password=True)} is at {revision}")
