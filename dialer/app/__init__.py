"""Wiring for the long-running commands: store + Retell client (or simulator) + runner,
signals, listeners and the live display. The CLI parses flags and calls in here: run.py
(`dialer run`, `dialer load`), worker.py (`dialer worker`), common.py (what both share)."""

from dialer.app.common import UsageError, retell_client, worker_id
from dialer.app.run import RunConfig, check_retell, load_campaign, run_campaign, show_load
from dialer.app.worker import ListenerPlan, WorkerConfig, plan_listeners, run_worker

__all__ = [
    "ListenerPlan",
    "RunConfig",
    "UsageError",
    "WorkerConfig",
    "check_retell",
    "load_campaign",
    "plan_listeners",
    "retell_client",
    "run_campaign",
    "run_worker",
    "show_load",
    "worker_id",
]
