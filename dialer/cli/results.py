"""Commands that read results: status, export, report. They never create a store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import click

from dialer.cli.main import (
    clock_from_env,
    database_option,
    main,
    no_campaign,
    reader_went_away,
    run_async,
    store_shown,
)
from dialer.domain.exit_codes import ExitCode


@main.command()
@click.argument("name", required=False)
@database_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per campaign.")
def status(name: str | None, database_url: str | None, as_json: bool) -> None:
    """Per campaign: leads by state, attempts, calls active now, outcomes."""
    import json

    from rich.console import Console

    from dialer.reporting.experiment import variant_table
    from dialer.reporting.status import CampaignStatusView, read_status
    from dialer.reporting.terminal import summary_table, window_note
    from dialer.store import open_store

    now = clock_from_env().now()

    async def go() -> list[CampaignStatusView]:
        store = await open_store(database_url, create=False)
        try:
            return await read_status(store, name, now, experiments=True)
        finally:
            await store.close()

    views = run_async(go, database_url)
    if name is not None and not views:
        no_campaign(name, database_url)
    if not views:
        click.echo(f"no campaigns in the store at {store_shown(database_url)} yet", err=True)
    console = Console()
    console.on_broken_pipe = reader_went_away  # type: ignore[method-assign]  # not rich's exit 1
    for view in views:
        if as_json:
            click.echo(json.dumps(view.as_json()))
            continue
        suffix = f" ({view.status_reason})" if view.status_reason else ""
        console.print(f"[bold]{view.name}[/bold]: {view.status}{suffix}")
        console.print(summary_table(view.name, view.summary, view.budget_usd))
        if view.waiting_for_window:
            console.print(window_note(view.waiting_for_window, view.next_window))
        results = view.results_json()
        if results is not None:
            age = results["oldest_pending_age_seconds"]
            oldest = f", oldest pending {age:.0f}s old" if age is not None else ""
            error = f", last error: {results['last_error']}" if results["last_error"] else ""
            console.print(
                f"  results webhook: {results['delivered']} delivered, {results['pending']} "
                f"pending, {results['dead']} dead{oldest}{error}",
                markup=False,
                highlight=False,
            )
        for number in view.from_numbers:
            stats = number.as_json()
            rate = "—" if stats["connect_rate"] is None else f"{stats['connect_rate']:.0%}"
            why = f" ({number.retired_reason})" if number.retired_reason else ""
            console.print(
                f"  from {number.number}: {number.calls} calls, {rate} connected, "
                f"{stats['state']}{why}"
            )
        if view.experiment is not None:
            console.print(variant_table(view.experiment))
            console.print(view.experiment.result.verdict, markup=False)


@main.command()
@click.argument("name")
@database_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@click.option("--attempts", "per_attempt", is_flag=True, help="One row per attempt.")
@click.option(
    "--transcripts",
    is_flag=True,
    help="Add each call's transcript, read from Retell now (needs RETELL_API_KEY; one read "
    "per call, within --api-reads-per-second). Transcripts are large and not kept.",
)
@click.option(
    "--raw",
    is_flag=True,
    help="Write CSV cells as they are: no quote before a cell that begins with =, +, -, @, | "
    "or their full-width forms (the default makes such cells inert in spreadsheets).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
def export(
    name: str,
    database_url: str | None,
    fmt: str,
    per_attempt: bool,
    transcripts: bool,
    raw: bool,
    output: Path | None,
) -> None:
    """One row per lead (or per attempt with --attempts), as CSV or JSON lines."""
    from dialer.reporting.export import write_export
    from dialer.reporting.output_file import replaced_when_complete
    from dialer.retell import RetellClient, RetellError
    from dialer.retell.settings import retell_settings_from_env
    from dialer.store import Store, open_store

    retell = retell_settings_from_env()
    if transcripts and retell is None:
        click.echo("--transcripts reads them from Retell: RETELL_API_KEY is not set", err=True)
        sys.exit(ExitCode.INVALID)

    async def write(store: Store, handle: IO[str]) -> None:
        if not transcripts or retell is None:
            await write_export(store, name, fmt, per_attempt=per_attempt, out=handle, raw=raw)
            return
        async with RetellClient(retell.api_key, retell.base_url) as client:

            async def transcript(call_id: str) -> str | None:
                try:
                    found = (await client.get_call(call_id)).model_extra or {}
                except RetellError:
                    return None
                text = found.get("transcript")
                return text if isinstance(text, str) else None

            await write_export(
                store,
                name,
                fmt,
                per_attempt=per_attempt,
                out=handle,
                raw=raw,
                transcripts=transcript,
            )

    async def go() -> bool:
        store = await open_store(database_url, create=False)
        try:
            if await store.campaign_id(name) is None:
                return False  # before -o FILE is touched: a typo leaves it as it was
            if output is None:
                await write(store, sys.stdout)
                return True
            with replaced_when_complete(output) as handle:
                await write(store, handle)
            return True
        finally:
            await store.close()

    if not run_async(go, database_url):
        no_campaign(name, database_url)


@main.command()
@click.argument("name")
@database_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the page (default: NAME-report.html; - for standard output).",
)
def report(name: str, database_url: str | None, output: Path | None) -> None:
    """One self-contained HTML page of charts for a campaign (works offline)."""
    from datetime import UTC, datetime

    from dialer.reporting.output_file import replaced_when_complete
    from dialer.reporting.report import gather, render
    from dialer.store import open_store

    target = output or Path(f"{name}-report.html")

    async def go() -> bool:
        store = await open_store(database_url, create=False)
        try:
            row = await store.campaign(name)
            if row is None:
                return False
            page = render(row, await gather(store, row), datetime.now(UTC))
        finally:
            await store.close()
        if str(target) == "-":  # the page itself, to a pipe
            sys.stdout.write(page)
            return True
        with replaced_when_complete(target) as handle:
            handle.write(page)
        return True

    if not run_async(go, database_url):
        no_campaign(name, database_url)
    if str(target) != "-":
        click.echo(f"{target}: the report of campaign {name!r}; open it in a browser")
