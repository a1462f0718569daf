"""What a person sees: live progress on a terminal, and the end-of-run summary table."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from dialer.store import CampaignSummary

STATE_ORDER = ("pending", "dialing", "in_call", "retry_wait", "completed", "failed", "skipped")
TERMINAL = ("completed", "failed", "skipped")


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


def progress_line(
    name: str,
    summary: CampaignSummary,
    cap: int,
    rate: float,
    started: float,
    window: str = "",
) -> str:
    total = sum(summary.leads_by_state.values())
    done = sum(summary.leads_by_state.get(s, 0) for s in TERMINAL)
    elapsed = time.monotonic() - started
    eta = "—"
    if done and total > done and elapsed > 1:
        eta = f"{(total - done) * elapsed / done:,.0f}s"
    waiting = summary.leads_by_state.get("retry_wait", 0)
    line = (
        f"{name}: {done:,}/{total:,} leads done · active calls {summary.live_attempts}/{cap}"
        f" · {rate:.1f} dials/s · ETA {eta}"
    )
    if waiting:
        line += f" · {waiting:,} waiting to retry"
    if summary.in_doubt:
        line += f" · {summary.in_doubt} in doubt"
    if window:
        line += f" · {window}"
    return line


def summary_table(name: str, summary: CampaignSummary) -> Table:
    table = Table(title=f"campaign {name}", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("count", justify="right")
    for state in STATE_ORDER:
        n = summary.leads_by_state.get(state, 0)
        if n:
            table.add_row(f"leads {state}", f"{n:,}")
    table.add_section()
    for reason, n in sorted(summary.calls_by_reason.items(), key=lambda kv: -kv[1]):
        table.add_row(f"calls {reason}", f"{n:,}")
    table.add_section()
    table.add_row("attempts", f"{summary.attempts:,}")
    minutes = summary.total_duration_ms / 60000
    table.add_row("talk + ring time", f"{minutes:,.1f} min")
    if summary.spend_cents:
        table.add_row("spend", f"${summary.spend_cents / 100:,.2f}")
        if summary.connected_calls:
            per_call = summary.spend_cents / 100 / summary.connected_calls
            table.add_row("cost per connected call", f"${per_call:,.3f}")
    if summary.next_due_at is not None and summary.leads_by_state.get("retry_wait"):
        wait = (summary.next_due_at - datetime.now(UTC)).total_seconds()
        table.add_row("next retry in", f"{max(0.0, wait):,.0f}s")
    return table


def print_summary(console: Console, name: str, summary: CampaignSummary) -> None:
    console.print(summary_table(name, summary))
