"""The `dialer` command line: parses flags, wires the parts together, maps errors to exit codes.

`main` is the command group (main.py); each module adds its commands to it: campaigns.py
(validate, load, doctor, run), fleet.py (worker, pause, resume, cancel), results.py (status,
export, report), tools.py (db upgrade, simulator), service.py (serve, token)."""

from dialer.cli import campaigns, fleet, results, service, tools
from dialer.cli.main import main

__all__ = ["campaigns", "fleet", "main", "results", "service", "tools"]
