"""Commands on a campaign file: validate, load, doctor, run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
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
    print_problems,
    run_async,
)
from dialer.dialing.options import FollowMode
from dialer.domain.exit_codes import ExitCode, for_signal
from dialer.domain.goal import unused_goal
from dialer.domain.pacing import prior_warning
from dialer.domain.preflight import Finding, Status
from dialer.domain.results_push import missing_secret
from dialer.domain.routing import describe_steps
from dialer.inputs.campaign_file import read_campaign_file
from dialer.inputs.problems import InputError
from dialer.inputs.review import review_campaign, sorted_problems
from dialer.inputs.rule_book import rules_in_force_line
from dialer.retell.settings import http_token_from_env


@main.command()
@click.argument("campaign_file", type=click.Path(path_type=Path))
def validate(campaign_file: Path) -> None:
    """Check a campaign and every lead; print each problem as FILE:LINE: field: message."""
    try:
        source = read_campaign_file(campaign_file)
    except InputError as exc:
        print_problems(sorted_problems(exc.problems))
        sys.exit(ExitCode.INVALID)
    review = review_campaign(source, clock_from_env().now())
    if review.problem_count:
        print_problems(review.problems, review.problem_count)
        click.echo(f"{review.problem_count} problem(s); nothing was stored or dialed", err=True)
        sys.exit(ExitCode.INVALID)
    leads_path = source.leads_path or source.path
    click.echo(f"{campaign_file}: {rules_in_force_line(source.campaign)}", err=True)
    click.echo(f"{campaign_file}: steps, first match decides:", err=True)
    for line in describe_steps(source.campaign):
        click.echo(f"  {line}", err=True)
    prior = prior_warning(source.campaign.budget_usd, source.campaign.cost_per_minute)
    if prior is not None:
        click.echo(f"{campaign_file}: warning: {prior}", err=True)
    unset = missing_secret(source.campaign.results_webhook, os.environ)
    if unset is not None:  # a run here would refuse to start; a worker elsewhere may have it
        click.echo(f"{campaign_file}: warning: {unset}", err=True)
    unused = unused_goal(source.campaign.goal, len(source.campaign.variants))
    if unused is not None:
        click.echo(f"{campaign_file}: warning: {unused}", err=True)
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
        print_problems(exc.problems)
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
    from dialer.domain.preflight import summary
    from dialer.operations.doctor import run_doctor
    from dialer.retell.settings import retell_settings_from_env

    try:
        source = read_campaign_file(campaign_file)
    except InputError as exc:
        print_problems(sorted_problems(exc.problems))
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
    type=PORT,
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
    from dialer.observability.logs import configure_logging
    from dialer.retell.settings import retell_settings_from_env

    as_json = configure_logging(log_format)
    clock = clock_from_env(logged=True)
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
        follow=FollowMode(follow),
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
        print_problems(exc.problems)
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
    if result.outcome is RunOutcome.MISCONFIGURED:
        click.echo(f"{result.message}\nnothing was lost; fix it and run again", err=True)
        sys.exit(ExitCode.RUNTIME)
    if result.outcome is RunOutcome.PAUSED:
        click.echo(
            f"campaign is paused ({result.message}); `dialer resume {result.campaign}` to continue",
            err=True,
        )
        sys.exit(ExitCode.RUNTIME)
    click.echo(f"campaign was cancelled ({result.message})", err=True)
    sys.exit(ExitCode.OK)


_MARKS = {Status.OK: ("✓", "green"), Status.WARN: ("!", "yellow"), Status.FAIL: ("✗", "red")}
_PLAIN = {Status.OK: "ok  ", Status.WARN: "warn", Status.FAIL: "FAIL"}


def render(finding: Finding, *, tty: bool) -> str:
    """One line: a coloured ✓/!/✗ on a terminal, `ok`/`warn`/`FAIL` in plain text otherwise."""
    if tty:
        mark, colour = _MARKS[finding.status]
        return f"{click.style(mark, fg=colour, bold=True)} {finding.subject}: {finding.message}"
    return f"{_PLAIN[finding.status]} {finding.subject}: {finding.message}"
