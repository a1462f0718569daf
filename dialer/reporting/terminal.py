"""What a person sees: live progress on a terminal, and the end-of-run summary table."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from dialer.domain.pacing import spend_words
from dialer.store import CampaignSummary

STATE_ORDER = ("pending", "dialing", "in_call", "retry_wait", "completed", "failed", "skipped")
TERMINAL = ("completed", "failed", "skipped")
REQUEST_WORDS = {
    "placed": "placed (a call exists)",
    "not_placed": "not placed (no call made)",
    "in_doubt": "in doubt (being reconciled)",
}


def window_note(waiting: int, next_window: datetime | None) -> str:
    """`120 waiting for their calling window (next opens 17:00 UTC, in 2h30m)`."""
    if not waiting:
        return ""
    note = f"{waiting:,} waiting for their calling window"
    if next_window is not None:
        seconds = max(0, int((next_window - datetime.now(UTC)).total_seconds()))
        hours, rest = divmod(seconds, 3600)
        note += f" (next opens {next_window:%a %H:%M} UTC, in {hours}h{rest // 60:02d}m)"
    return note


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def eta_seconds(
    summary: CampaignSummary,
    finish_rate: float,
    now: datetime,
    waiting_for_window: int = 0,
    next_window: datetime | None = None,
) -> float | None:
    """When the campaign should be done: the leads that can be dialed now, at the rate leads
    finish; or, if later, the wait for the leads held back (a backoff, a closed calling
    window) and then their own turn. None before any lead has finished."""
    if finish_rate <= 0:
        return None
    by_state = summary.leads_by_state
    remaining = sum(n for state, n in by_state.items() if state not in TERMINAL)
    held = by_state.get("retry_wait", 0) + waiting_for_window
    eta = max(0, remaining - held) / finish_rate
    opens = [t for t in (summary.next_due_at, next_window) if t is not None and t > now]
    if held and opens:
        wait = (max(opens) - now).total_seconds()
        eta = max(eta, wait + held / finish_rate)
    return eta


class RunProgress:
    """`dialer run`'s bar on a terminal: done/total, calls active against the cap, dial rate,
    spend, an ETA that counts leads waiting for a backoff or a calling window."""

    def __init__(self, console: Console, name: str, cap: int) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            transient=True,
        )
        self._cap = cap
        self._task: TaskID = self.progress.add_task(name, total=None, info="")
        self._done: deque[tuple[float, int]] = deque(maxlen=240)  # (monotonic, done)

    def update(
        self,
        summary: CampaignSummary,
        dial_rate: float,
        waiting: int,
        next_window: datetime | None,
        notes: Sequence[str] = (),
        *,
        waiting_for_retell: bool = False,
    ) -> None:
        """`notes` come first: what the run waits for (a resume, late call details)."""
        total = sum(summary.leads_by_state.values())
        done = sum(summary.leads_by_state.get(s, 0) for s in TERMINAL)
        now = time.monotonic()
        self._done.append((now, done))
        first_at, first_done = self._done[0]
        rate = (done - first_done) / (now - first_at) if now - first_at > 1 else 0.0
        eta = eta_seconds(summary, rate, datetime.now(UTC), waiting, next_window)
        parts = [
            *(["waiting for Retell"] if waiting_for_retell else []),
            *notes,
            f"active {summary.live_attempts}/{self._cap}",
            f"{dial_rate:.1f} dials/s",
            spend_words(summary.spend_cents, summary.pending_cents),
            f"ETA {_duration(eta) if eta is not None else '—'}",
        ]
        retrying = summary.leads_by_state.get("retry_wait", 0)
        if retrying:
            parts.append(f"{retrying:,} waiting to retry")
        if summary.in_doubt:
            parts.append(f"{summary.in_doubt} in doubt")
        if waiting:
            parts.append(window_note(waiting, next_window))
        self.progress.update(self._task, total=total, completed=done, info=" · ".join(parts))


def summary_table(name: str, summary: CampaignSummary, budget_usd: float | None = None) -> Table:
    """Leads by state, requests apart from calls, time, spend (against the budget, if any),
    and why waiting leads wait."""
    table = Table(title=f"campaign {name}", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("count", justify="right")
    for state in STATE_ORDER:
        n = summary.leads_by_state.get(state, 0)
        if n:
            table.add_row(f"leads {state}", f"{n:,}")
    table.add_section()
    # What the create requests proved, apart from how the placed calls ended: a request
    # refused before any call existed is no call outcome.
    for outcome, n in summary.requests_by_outcome.items():
        if n:
            table.add_row(f"requests {REQUEST_WORDS.get(outcome, outcome)}", f"{n:,}")
    table.add_section()
    for reason, n in sorted(summary.calls_by_reason.items(), key=lambda kv: -kv[1]):
        table.add_row(f"calls ended {reason}", f"{n:,}")
    table.add_section()
    table.add_row("attempts", f"{summary.attempts:,}")
    minutes = summary.total_duration_ms / 60000
    table.add_row("talk + ring time", f"{minutes:,.1f} min")
    if summary.spend_cents or summary.pending_cents or budget_usd is not None:
        spent = spend_words(summary.spend_cents, summary.pending_cents)
        table.add_row("spend", spent if budget_usd is None else f"{spent} of ${budget_usd:,.2f}")
        if summary.connected_calls and summary.spend_cents:
            per_call = summary.spend_cents / 100 / summary.connected_calls
            table.add_row("cost per connected call", f"${per_call:,.3f}")
    for reason, n in sorted(summary.waiting_by_reason.items(), key=lambda kv: -kv[1]):
        table.add_row(f"waiting: {reason}", f"{n:,}")
    if summary.next_due_at is not None and summary.leads_by_state.get("retry_wait"):
        wait = (summary.next_due_at - datetime.now(UTC)).total_seconds()
        table.add_row("next retry in", f"{max(0.0, wait):,.0f}s")
    return table


def print_summary(console: Console, name: str, summary: CampaignSummary) -> None:
    console.print(summary_table(name, summary))
