"""The `dialer` command line: parses flags, wires the parts together, maps errors to exit codes."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import IO, NoReturn, TypeVar

import anyio
import click

from dialer.clock import Clock
from dialer.exit_codes import ExitCode, for_signal
from dialer.inputs.campaign_file import read_campaign_file
from dialer.inputs.review import review_campaign, sorted_problems
from dialer.inputs.state_rules import rules_in_force_line
from dialer.problems import InputError
from dialer.settings import http_token_from_env

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


DEBUG_VARIABLE = "DIALER_DEBUG"


def _leaf(exc: BaseException) -> BaseException:
    """The failure inside task-group wrappers (the first one; a store failure first)."""
    while isinstance(exc, BaseExceptionGroup):
        inner = list(exc.exceptions)
        exc = next((e for e in inner if type(e).__name__.startswith("Store")), inner[0])
    return exc


def run_async(fn: Callable[[], Awaitable[T]], store_url: str | None = None) -> T:
    """Run `fn`. A failure a person can fix (the store's disk is full, the database or Retell
    cannot be reached, a file may not be written …) ends the command with one line and exit 1;
    its traceback goes to the JSON log, and to the terminal only with --debug (DIALER_DEBUG=1).
    Anything else is a bug, and its traceback is the report."""
    try:
        return anyio.run(fn)
    except Exception as exc:
        failure = _leaf(exc)
        if isinstance(failure, InputError | click.ClickException | BrokenPipeError):
            raise failure from None  # a closed pipe is no store fault: see _Commands
        from dialer.http.binding import ListenError
        from dialer.retell import RetellUnreachableError

        if isinstance(failure, ListenError):  # the user's to fix, and nothing ran: no traceback
            click.echo(str(failure), err=True)
            sys.exit(ExitCode.RUNTIME)
        from dialer.store import database_url, explain

        if isinstance(failure, RetellUnreachableError):
            _fail(str(failure), failure)
        message = explain(failure, database_url(store_url))
        if message is None and isinstance(failure, OSError) and failure.filename:
            message = f"{failure.strerror or failure}: {failure.filename}"
        if message is None:
            raise
        _fail(message, failure)


def _fail(message: str, failure: BaseException) -> NoReturn:
    from dialer.logs import log_failure

    log_failure(message, failure)
    root = click.get_current_context(silent=True)
    debug = bool(root and root.find_root().params.get("debug"))
    if debug:
        traceback.print_exception(failure, file=sys.stderr)
    click.echo(message, err=True)
    sys.exit(ExitCode.RUNTIME)


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


host_option = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="DIALER_HTTP_HOST",
    help="The address to listen on: 127.0.0.1 serves this machine only, 0.0.0.0 every "
    "interface (the image sets it). Env: DIALER_HTTP_HOST.",
)


def _clock_from_env(*, logged: bool = False) -> Clock:
    """DIALER_CLOCK_START, or exit 2 saying what is wrong with it. A shifted clock is said at
    once: as a log line (`logged`: run and worker, whose logs may be JSON) or on stderr."""
    try:
        clock = Clock.from_env()
    except ValueError as exc:
        click.echo(str(exc), err=True)
        sys.exit(ExitCode.INVALID)
    if clock.shifted:
        if logged:
            import structlog

            structlog.get_logger("dialer").warning("clock_shifted", note=clock.shift_note())
        else:
            click.echo(f"warning: {clock.shift_note()}", err=True)
    return clock


def _reader_went_away() -> NoReturn:
    """The reader of our standard output closed it (`dialer export … | head -1`): stop quietly
    with 141, as a Unix tool killed by SIGPIPE reports in a shell. Standard output is pointed
    at /dev/null first, so that Python's final flush does not complain about the pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(ExitCode.BROKEN_PIPE)


class _Commands(click.Group):
    """The command group; a closed standard output ends any command quietly."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a broken pipe shows here, not in the interpreter's last flush
        except BrokenPipeError:
            _reader_went_away()
        return result


def _store_shown(database_url: str | None) -> str:
    """The store a command reads, as messages name it (a file path, or a URL without its
    password)."""
    from dialer.store import database_url as resolved
    from dialer.store import store_location

    return store_location(resolved(database_url))


def _no_campaign(name: str, database_url: str | None) -> NoReturn:
    """`NAME` is not in the store: say which store was asked."""
    click.echo(f"no campaign named {name!r} in the store at {_store_shown(database_url)}", err=True)
    sys.exit(ExitCode.INVALID)


lease_option = click.option(
    "--lease-seconds",
    type=float,
    default=30.0,
    show_default=True,
    envvar="DIALER_LEASE_SECONDS",
    help="How long other processes wait before taking over the calls of one that died.",
)


outage_option = click.option(
    "--store-outage-seconds",
    type=float,
    default=300.0,
    show_default=True,
    envvar="DIALER_STORE_OUTAGE_SECONDS",
    help="How long to wait out the database not answering (a restart, a failover) before "
    "giving up with exit 1. Claims pause meanwhile; calls in flight are still followed.",
)


def following_options(command: F) -> F:
    """How placed calls are followed, and the process's read budget (run and worker)."""
    command = click.option(
        "--api-reads-per-second",
        type=float,
        default=10.0,
        show_default=True,
        envvar="DIALER_API_READS_PER_SECOND",
        help="This process's ceiling on reads from Retell (get-call, list-calls, "
        "reconciliation), scaled by --speed like every wait. Creates are paced by the "
        "campaign's calls_per_second.",
    )(command)
    return click.option(
        "--follow",
        type=click.Choice(["list", "get-call"]),
        default="list",
        show_default=True,
        envvar="DIALER_FOLLOW",
        help="list: one list-calls per 250 ms for every call followed (a slow get-call per "
        "call as the fallback); get-call: one get-call per live call (the older way).",
    )(command)


def log_format_option(default: str) -> Callable[[F], F]:
    return click.option(
        "--log-format",
        type=click.Choice(["auto", "json", "console"]),
        default=default,
        show_default=True,
        help="auto: JSON lines unless stderr is a terminal.",
    )


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dialer")
@click.option(
    "--debug",
    is_flag=True,
    envvar=DEBUG_VARIABLE,
    help="Show the traceback of an operational error (disk full, database unreachable, …) "
    "beside its one-line message. Env: DIALER_DEBUG=1.",
)
def main(debug: bool) -> None:
    """Run outbound phone-call campaigns through Retell AI; nobody is called twice by mistake."""


@main.command()
@click.argument("campaign_file", type=click.Path(path_type=Path))
def validate(campaign_file: Path) -> None:
    """Check a campaign and every lead; print each problem as FILE:LINE: field: message."""
    try:
        source = read_campaign_file(campaign_file)
    except InputError as exc:
        _print_problems(sorted_problems(exc.problems))
        sys.exit(ExitCode.INVALID)
    review = review_campaign(source, _clock_from_env().now())
    if review.problem_count:
        _print_problems(review.problems, review.problem_count)
        click.echo(f"{review.problem_count} problem(s); nothing was stored or dialed", err=True)
        sys.exit(ExitCode.INVALID)
    leads_path = source.leads_path or source.path
    click.echo(f"{campaign_file}: {rules_in_force_line(source.campaign)}", err=True)
    for never in review.never_callable:
        click.echo(
            f"{leads_path}:{never.first_line}: warning: {never.count} lead(s) like this one can "
            f"never be called: {never.reason}; they will end skipped",
            err=True,
        )
    for later in review.not_callable_now:
        click.echo(
            f"{leads_path}:{later.first_line}: {later.count} lead(s) cannot be called now "
            f"({later.reason}); the first may be called at "
            f"{later.first_opening:%Y-%m-%d %H:%M} UTC",
            err=True,
        )
    if review.suppressed_leads:
        click.echo(
            f"{campaign_file}: {review.suppressed_leads} lead(s) are on the campaign's "
            "suppression files and will end skipped",
            err=True,
        )
    click.echo(
        f"{campaign_file}: ok — campaign {source.campaign.name!r}, {review.scan.leads} leads"
    )


@main.command()
@click.argument("campaign_file", type=click.Path(path_type=Path))
@database_option
def load(campaign_file: Path, database_url: str | None) -> None:
    """Validate and load (or update) a campaign and its list into the store, without dialing;
    print what changed. For fleets: workers dial what is loaded."""
    from dialer.app import load_campaign

    try:
        report = run_async(lambda: load_campaign(str(campaign_file), database_url), database_url)
    except InputError as exc:
        _print_problems(exc.problems)
        click.echo("nothing was stored", err=True)
        sys.exit(ExitCode.INVALID)
    click.echo(report.summary())
    for warning in report.warnings():
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.argument("campaign_file", type=click.Path(path_type=Path))
def doctor(campaign_file: Path) -> None:
    """Check the key, the agent, the from-numbers and the prompt's {{variables}} against the
    lead list, at Retell, before the first dial. Reads only: nothing is stored or dialed."""
    from dialer.doctor import render, run_doctor
    from dialer.domain.preflight import summary
    from dialer.settings import retell_settings_from_env

    try:
        source = read_campaign_file(campaign_file)
    except InputError as exc:
        _print_problems(sorted_problems(exc.problems))
        sys.exit(ExitCode.INVALID)
    retell = retell_settings_from_env()
    if retell is None:
        click.echo("RETELL_API_KEY is not set: doctor asks Retell with it", err=True)
        sys.exit(ExitCode.INVALID)
    tty = sys.stdout.isatty()
    try:  # no store here: run_async would explain a failure as the database's
        outcome = anyio.run(
            run_doctor, source, retell, lambda finding: click.echo(render(finding, tty=tty))
        )
    except BrokenPipeError:  # `dialer doctor … | head` stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(ExitCode.RUNTIME)
    if outcome.message is not None:
        click.echo(outcome.message, err=True)
    else:
        click.echo(summary(outcome.findings))
    sys.exit(outcome.exit_code)


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
@click.argument("campaign_file", type=click.Path(path_type=Path))
@click.option("--simulate", is_flag=True, help="Dial an in-process Retell simulator, not Retell.")
@click.option(
    "--speed",
    type=float,
    default=None,
    help="How many times faster than real time the Retell you dial runs: pacing, backoffs and "
    "polling are compressed to match. Default 600 with --simulate, else 1 (pass a "
    "`dialer simulator --speed X` its X).",
)
@database_option
@lease_option
@outage_option
@following_options
@log_format_option("auto")
@click.option("--no-progress", is_flag=True, help="No live progress display.")
@click.option(
    "--exit-on-pause",
    is_flag=True,
    help="End (exit 1) when the campaign is paused, by a person or by itself (budget, account, "
    "failure spike), instead of waiting for `dialer resume`.",
)
@click.option(
    "--http-port",
    type=int,
    default=None,
    help="Serve a live dashboard of this campaign at / on this port (with /metrics and "
    "/healthz); DIALER_HTTP_TOKEN guards it.",
)
@host_option
def run(
    campaign_file: Path,
    simulate: bool,
    speed: float | None,
    database_url: str | None,
    lease_seconds: float,
    store_outage_seconds: float,
    api_reads_per_second: float,
    follow: str,
    log_format: str,
    no_progress: bool,
    exit_on_pause: bool,
    http_port: int | None,
    host: str,
) -> None:
    """Validate, load and run one campaign to the end; re-running the same file resumes it.
    A paused campaign is waited out (calls in progress are followed) until `dialer resume`."""
    from dialer.app import RunConfig, UsageError, run_campaign
    from dialer.dialing.options import RunOutcome
    from dialer.logs import configure_logging
    from dialer.settings import retell_settings_from_env

    as_json = configure_logging(log_format)
    clock = _clock_from_env(logged=True)
    retell = retell_settings_from_env()
    if retell is None and not simulate:
        click.echo("RETELL_API_KEY is not set (or use --simulate to try the simulator)", err=True)
        sys.exit(ExitCode.INVALID)
    config = RunConfig(
        campaign_file=str(campaign_file),
        database_url=database_url,
        retell=retell,
        simulate=simulate,
        speed=speed if speed is not None else (600.0 if simulate else 1.0),
        lease_seconds=lease_seconds,
        store_outage_seconds=store_outage_seconds,
        api_reads_per_second=api_reads_per_second,
        follow=follow,
        progress=not no_progress,
        http_port=http_port,
        http_host=host,
        http_token=http_token_from_env(),  # env only: a flag would show in `ps`
        json_logs=as_json,
        exit_on_pause=exit_on_pause,
        clock=clock,
    )
    try:
        result, signum = run_async(lambda: run_campaign(config), database_url)
    except InputError as exc:
        _print_problems(exc.problems)
        click.echo("nothing was stored or dialed", err=True)
        sys.exit(ExitCode.INVALID)
    except UsageError as exc:
        click.echo(str(exc), err=True)
        sys.exit(ExitCode.INVALID)
    if result.outcome is RunOutcome.FINISHED:
        sys.exit(ExitCode.OK)
    if result.outcome is RunOutcome.STOPPED:
        click.echo("stopped; run the same command again to resume", err=True)
        sys.exit(for_signal(signum))
    if result.outcome is RunOutcome.FATAL:
        click.echo(
            f"{result.message}\nnothing was lost; fix the key or account and run again", err=True
        )
        sys.exit(ExitCode.ACCOUNT)
    if result.outcome is RunOutcome.PAUSED:
        click.echo(
            f"campaign is paused ({result.message}); `dialer resume {result.campaign}` to continue",
            err=True,
        )
        sys.exit(ExitCode.RUNTIME)
    click.echo(f"campaign was cancelled ({result.message})", err=True)
    sys.exit(ExitCode.OK)


@main.command()
@database_option
@lease_option
@outage_option
@following_options
@click.option(
    "--http-port",
    type=int,
    default=None,
    envvar="DIALER_HTTP_PORT",
    help="Serve everything on this one port: /healthz, /readyz, /metrics, the dashboard at / "
    "and Retell's call events (POST on any other path).",
)
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    envvar="DIALER_METRICS_PORT",
    help="Serve /healthz, /readyz, Prometheus /metrics and the dashboard on this port.",
)
@click.option(
    "--webhook-port",
    type=int,
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
    from dialer.logs import configure_logging
    from dialer.settings import retell_settings_from_env

    configure_logging(log_format, show_numbers=log_numbers)
    retell = retell_settings_from_env()
    if retell is None:
        click.echo("RETELL_API_KEY is not set", err=True)
        sys.exit(ExitCode.INVALID)
    clock = _clock_from_env(logged=True)
    config = WorkerConfig(
        database_url=database_url,
        retell=retell,
        lease_seconds=lease_seconds,
        store_outage_seconds=store_outage_seconds,
        api_reads_per_second=api_reads_per_second,
        follow=follow,
        speed=speed,
        http_port=http_port,
        metrics_port=metrics_port,
        webhook_port=webhook_port,
        http_host=host,
        http_token=http_token_from_env(),  # env only: a flag would show in `ps`
        clock=clock,
    )
    fatal, signum = run_async(lambda: run_worker(config), database_url)
    if fatal:
        click.echo(f"{fatal}\nnothing was lost; fix the key or account and start again", err=True)
        sys.exit(ExitCode.ACCOUNT)
    if signum is not None:
        sys.exit(for_signal(signum))
    sys.exit(ExitCode.OK)


def _control(name: str, database_url: str | None, action: str) -> str:
    from dialer import control
    from dialer.store import open_store

    steer = {"pause": control.pause, "resume": control.resume, "cancel": control.cancel}[action]

    async def go() -> str:
        store = await open_store(database_url)
        try:
            return await steer(store, name)
        except control.ControlRefusedError as exc:
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


@main.command()
@click.argument("name", required=False)
@database_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per campaign.")
def status(name: str | None, database_url: str | None, as_json: bool) -> None:
    """Per campaign: leads by state, attempts, calls active now, outcomes."""
    import json

    from rich.console import Console

    from dialer.display import summary_table, window_note
    from dialer.status import CampaignStatusView, read_status
    from dialer.store import open_store

    now = _clock_from_env().now()

    async def go() -> list[CampaignStatusView]:
        store = await open_store(database_url, create=False)
        try:
            return await read_status(store, name, now)
        finally:
            await store.close()

    views = run_async(go, database_url)
    if name is not None and not views:
        _no_campaign(name, database_url)
    if not views:
        click.echo(f"no campaigns in the store at {_store_shown(database_url)} yet", err=True)
    console = Console()
    console.on_broken_pipe = _reader_went_away  # type: ignore[method-assign]  # not rich's exit 1
    for view in views:
        if as_json:
            click.echo(json.dumps(view.as_json()))
            continue
        suffix = f" ({view.status_reason})" if view.status_reason else ""
        console.print(f"[bold]{view.name}[/bold]: {view.status}{suffix}")
        console.print(summary_table(view.name, view.summary))
        if view.waiting_for_window:
            console.print(window_note(view.waiting_for_window, view.next_window))
        for number in view.from_numbers:
            stats = number.as_json()
            rate = "—" if stats["connect_rate"] is None else f"{stats['connect_rate']:.0%}"
            why = f" ({number.retired_reason})" if number.retired_reason else ""
            console.print(
                f"  from {number.number}: {number.calls} calls, {rate} connected, "
                f"{stats['state']}{why}"
            )


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
    from dialer.export import write_export
    from dialer.output_file import replaced_when_complete
    from dialer.retell import RetellClient, RetellError
    from dialer.settings import retell_settings_from_env
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
        _no_campaign(name, database_url)


@main.command()
@click.argument("name")
@database_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the page (default: NAME-report.html).",
)
def report(name: str, database_url: str | None, output: Path | None) -> None:
    """One self-contained HTML page of charts for a campaign (works offline)."""
    from datetime import UTC, datetime

    from dialer.output_file import replaced_when_complete
    from dialer.report import gather, render
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
        with replaced_when_complete(target) as handle:
            handle.write(page)
        return True

    if not run_async(go, database_url):
        _no_campaign(name, database_url)
    click.echo(f"{target}: the report of campaign {name!r}; open it in a browser")


@main.command()
@click.option("--port", type=int, default=8089, show_default=True)
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
    from dialer.simulator import SimulatedRetell, SimulatorServer, Workspace

    try:
        workspace = Workspace.from_file(accounts) if accounts is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--accounts") from None

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
