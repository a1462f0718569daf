"""The `dialer` command group and what its commands share: running async code with errors
mapped to one line and an exit code, and the common options."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn, TypeVar

import anyio
import click

from dialer.dialing.clock import Clock
from dialer.domain.exit_codes import ExitCode
from dialer.inputs.problems import InputError

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
        from dialer.store import StoreUrlError, database_url, explain

        if isinstance(failure, RetellUnreachableError | StoreUrlError):
            fail(str(failure), failure)
        message = explain(failure, database_url(store_url))
        if message is None and isinstance(failure, OSError) and failure.filename:
            message = f"{failure.strerror or failure}: {failure.filename}"
        if message is None:
            raise
        fail(message, failure)


def fail(message: str, failure: BaseException) -> NoReturn:
    from dialer.observability.logs import log_failure

    log_failure(message, failure)
    root = click.get_current_context(silent=True)
    debug = bool(root and root.find_root().params.get("debug"))
    if debug:
        traceback.print_exception(failure, file=sys.stderr)
    click.echo(message, err=True)
    sys.exit(ExitCode.RUNTIME)


def print_problems(problems: Sequence[object], total: int | None = None) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
    if total is not None and total > len(problems):
        click.echo(f"… and {total - len(problems)} more problems", err=True)


PORT = click.IntRange(0, 65535)  # a TCP port (0: any free one)

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


def clock_from_env(*, logged: bool = False) -> Clock:
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


def reader_went_away() -> NoReturn:
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
            reader_went_away()
        return result


def store_shown(database_url: str | None) -> str:
    """The store a command reads, as messages name it (a file path, or a URL without its
    password)."""
    from dialer.store import database_url as resolved
    from dialer.store import store_location

    return store_location(resolved(database_url))


def no_campaign(name: str, database_url: str | None) -> NoReturn:
    """`NAME` is not in the store: say which store was asked."""
    click.echo(f"no campaign named {name!r} in the store at {store_shown(database_url)}", err=True)
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
