"""Commands for a fleet: the long-running worker, and steering campaigns (pause, resume,
cancel)."""

from __future__ import annotations

import sys

import click

from dialer.cli.main import (
    PORT,
    clock_from_env,
    database_option,
    following_options,
    host_option,
    lease_option,
    log_format_option,
    main,
    outage_option,
    run_async,
)
from dialer.dialing.options import FollowMode, RunOutcome
from dialer.domain.exit_codes import ExitCode, for_signal
from dialer.retell.settings import http_token_from_env


@main.command()
@database_option
@lease_option
@outage_option
@following_options
@click.option(
    "--http-port",
    type=PORT,
    default=None,
    envvar="DIALER_HTTP_PORT",
    help="Serve everything on this one port: /healthz, /readyz, /metrics, the dashboard at / "
    "(with its controls), the HTTP API (/v1, /openapi.json, /docs) and Retell's call events "
    "(POST on any other path).",
)
@click.option(
    "--metrics-port",
    type=PORT,
    default=None,
    envvar="DIALER_METRICS_PORT",
    help="Serve /healthz, /readyz, Prometheus /metrics and the dashboard on this port.",
)
@click.option(
    "--webhook-port",
    type=PORT,
    default=None,
    envvar="DIALER_WEBHOOK_PORT",
    help="Receive Retell's call events (POST, signed with the API key) on this port, and "
    "nothing else; calls end in the store as soon as Retell says so. Polling stays on.",
)
@host_option
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="How many times faster than real time the Retell you dial runs (a simulator's X).",
)
@log_format_option("json")
@click.option("--log-numbers", is_flag=True, help="Log phone numbers in full (default: last 4).")
def worker(
    database_url: str | None,
    lease_seconds: float,
    store_outage_seconds: float,
    api_reads_per_second: float,
    follow: str,
    http_port: int | None,
    metrics_port: int | None,
    webhook_port: int | None,
    host: str,
    speed: float,
    log_format: str,
    log_numbers: bool,
) -> None:
    """Serve every active campaign in the store until SIGTERM; run as many as you like."""
    from dialer.app import WorkerConfig, run_worker
    from dialer.observability.logs import configure_logging
    from dialer.retell.settings import retell_settings_from_env

    configure_logging(log_format, show_numbers=log_numbers)
    retell = retell_settings_from_env()
    if retell is None:
        click.echo("RETELL_API_KEY is not set", err=True)
        sys.exit(ExitCode.INVALID)
    clock = clock_from_env(logged=True)
    config = WorkerConfig(
        database_url=database_url,
        retell=retell,
        lease_seconds=lease_seconds,
        store_outage_seconds=store_outage_seconds,
        api_reads_per_second=api_reads_per_second,
        follow=FollowMode(follow),
        speed=speed,
        http_port=http_port,
        metrics_port=metrics_port,
        webhook_port=webhook_port,
        http_host=host,
        http_token=http_token_from_env(),  # env only: a flag would show in `ps`
        clock=clock,
    )
    fatal, signum = run_async(lambda: run_worker(config), database_url)
    if fatal is not None:
        what = (
            "RETELL_BASE_URL" if fatal.outcome is RunOutcome.MISCONFIGURED else "the key or account"
        )
        click.echo(f"{fatal.message}\nnothing was lost; fix {what} and start again", err=True)
        sys.exit(ExitCode.ACCOUNT if fatal.outcome is RunOutcome.FATAL else ExitCode.RUNTIME)
    if signum is not None:
        sys.exit(for_signal(signum))
    sys.exit(ExitCode.OK)


def _control(name: str, database_url: str | None, action: str) -> str:
    from dialer.operations import steering
    from dialer.store import open_store

    steer = {"pause": steering.pause, "resume": steering.resume, "cancel": steering.cancel}[action]

    async def go() -> str:
        store = await open_store(database_url)
        try:
            return await steer(store, name)
        except steering.ControlRefusedError as exc:
            raise click.UsageError(str(exc)) from None
        finally:
            await store.close()

    return run_async(go, database_url)


@main.command()
@click.argument("name")
@database_option
def pause(name: str, database_url: str | None) -> None:
    """Stop dialing new leads of a campaign (running workers stop within seconds)."""
    click.echo(_control(name, database_url, "pause"))


@main.command()
@click.argument("name")
@database_option
def resume(name: str, database_url: str | None) -> None:
    """Continue a paused campaign (workers pick it up within seconds)."""
    click.echo(_control(name, database_url, "resume"))


@main.command()
@click.argument("name")
@database_option
def cancel(name: str, database_url: str | None) -> None:
    """Give up a campaign's remaining leads; calls in progress are followed to the end."""
    click.echo(_control(name, database_url, "cancel"))
