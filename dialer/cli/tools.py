"""Tools: the store's migrations (`dialer db upgrade`) and the Retell simulator."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from dialer.cli.main import (
    PORT,
    database_option,
    host_option,
    main,
    run_async,
)


@main.group()
def db() -> None:
    """Manage the store's schema."""


@db.command("upgrade")
@database_option
@click.option("--revision", default="head", show_default=True, help="Target migration.")
def db_upgrade(database_url: str | None, revision: str) -> None:
    """Apply migrations (safe to run from several containers at once)."""
    from dialer.store import upgrade_store

    shown = run_async(lambda: upgrade_store(database_url, revision), database_url)
    click.echo(f"store {shown} is at {revision}")


@main.command()
@click.option("--port", type=PORT, default=8089, show_default=True)
@host_option
@click.option(
    "--api-key",
    envvar="RETELL_API_KEY",
    default="sim-key",
    help="The key the simulator accepts (default: RETELL_API_KEY, else sim-key).",
)
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Run the simulated clock this many times faster than real time.",
)
@click.option("--concurrency-limit", type=int, default=20, show_default=True)
@click.option("--seed", type=int, default=None, help="Seed the outcome mix (repeatable runs).")
@click.option(
    "--call-seconds",
    default=None,
    metavar="LOW-HIGH",
    help="Every call connects and lasts uniform(LOW, HIGH) simulated seconds (e.g. 2-4), "
    "instead of the realistic outcome mix.",
)
@click.option(
    "--webhook-url",
    default=None,
    help="POST each call's events here when it ends (call_ended, call_analyzed), signed with "
    "the API key, as Retell posts to an agent's webhook URL.",
)
@click.option(
    "--analysis-seconds",
    type=float,
    default=30.0,
    show_default=True,
    help="How long (simulated seconds) after a call ends its analysis and cost appear, as "
    "Retell reports them with call_analyzed.",
)
@click.option(
    "--spam-after",
    "spam_after",
    multiple=True,
    metavar="NUMBER:N",
    help="After N calls from this from-number, its calls end marked_as_spam (repeatable).",
)
@click.option(
    "--accounts",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A JSON file of the workspace's agents, retell_llms, conversation_flows and "
    "phone_numbers, in Retell's shapes (what dialer doctor reads).",
)
@click.option(
    "--profiles",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A JSON file of outcome and analysis probabilities per agent id (or agent_id@version), "
    "to plant a difference between an experiment's variants (README: The simulator).",
)
def simulator(
    port: int,
    host: str,
    api_key: str,
    speed: float,
    concurrency_limit: int,
    seed: int | None,
    call_seconds: str | None,
    webhook_url: str | None,
    analysis_seconds: float,
    spam_after: tuple[str, ...],
    accounts: Path | None,
    profiles: Path | None,
) -> None:
    """Serve the built-in Retell API simulator over HTTP."""
    flagged: dict[str, int] = {}
    for item in spam_after:
        number, _, count = item.rpartition(":")
        if not number or not count.isdigit():
            raise click.BadParameter(f"{item!r} is not NUMBER:N", param_hint="--spam-after")
        flagged[number] = int(count)
    lengths = None
    if call_seconds is not None:
        try:
            low, high = (float(part) for part in call_seconds.split("-", 1))
            lengths = (low, high)
        except ValueError:
            raise click.BadParameter(
                f"{call_seconds!r} is not LOW-HIGH", param_hint="--call-seconds"
            ) from None
    from dialer.simulator import AgentProfiles, SimulatedRetell, SimulatorServer, Workspace

    try:
        workspace = Workspace.from_file(accounts) if accounts is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--accounts") from None
    try:
        planted = AgentProfiles.from_file(profiles) if profiles is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--profiles") from None

    async def go() -> None:
        engine = SimulatedRetell(
            api_key=api_key,
            speed=speed,
            concurrency_limit=concurrency_limit,
            seed=seed,
            webhook_url=webhook_url,
            call_seconds=lengths,
            spam_after=flagged,
            late_analysis_seconds=analysis_seconds,
            workspace=workspace,
            profiles=planted,
        )
        async with SimulatorServer(engine, host=host, port=port) as server:
            shown = "the key from RETELL_API_KEY" if api_key != "sim-key" else "sim-key"
            click.echo(
                f"Retell simulator on {server.url} (speed x{speed:g}); "
                f"use RETELL_BASE_URL={server.url} and {shown} as RETELL_API_KEY",
                err=False,
            )
            sys.stdout.flush()
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        run_async(go)
