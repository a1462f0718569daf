"""The bad-input corpus (`tests/inputs/bad/`, one folder per trap): `dialer validate` exits 2
and prints exactly the lines of the case's `expected.txt`, one `FILE:LINE: field: message` per
problem. Each trap ran for minutes, ended in a traceback or passed as `ok` before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialer.cli import main

CORPUS = Path(__file__).parent / "bad"
CASES = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())
SUMMARY = "problem(s); nothing was stored or dialed"


def problem_lines(output: str, case_dir: Path) -> list[str]:
    """The output's problem lines, with the case's folder left out of the file names."""
    lines = [line.replace(f"{case_dir}{os.sep}", "") for line in output.splitlines()]
    return [line for line in lines if not line.endswith(SUMMARY)]


@pytest.mark.parametrize("case", CASES)
def test_each_trap_is_one_line_per_problem_and_exit_2(case: str) -> None:
    case_dir = (CORPUS / case).resolve()
    result = CliRunner().invoke(main, ["validate", str(case_dir / "campaign.yaml")])
    assert result.exit_code == 2, result.output
    expected = (case_dir / "expected.txt").read_text().splitlines()
    assert problem_lines(result.output, case_dir) == expected


@pytest.mark.parametrize(
    "case", ["yaml-alias-bomb", "yaml-deeply-nested", "suppress-dev-zero", "leads-dev-zero"]
)
def test_traps_that_used_to_run_for_minutes_end_at_once(case: str) -> None:
    """As a real process: exit 2 with the problem, no traceback, long before a 10 s guard
    (a MemoryError after minutes, or a RecursionError, before)."""
    campaign = CORPUS / case / "campaign.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "dialer", "validate", str(campaign)],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "campaign.yaml:" in done.stderr


@pytest.mark.parametrize("case", ["zero-leads", "nul-in-csv-cell", "suppress-dev-zero"])
def test_run_refuses_the_same_input_with_exit_2(case: str, tmp_path: Path) -> None:
    """`dialer run` reads the files as `validate` does: the same lines, exit 2, nothing stored
    (a NUL once reached Postgres; a list with no leads ran and "finished")."""
    case_dir = (CORPUS / case).resolve()
    store = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    result = CliRunner().invoke(
        main,
        ["run", str(case_dir / "campaign.yaml"), "--simulate", "--no-progress"],
        env={"DATABASE_URL": store},
    )
    assert result.exit_code == 2, result.output
    expected = (case_dir / "expected.txt").read_text().splitlines()
    assert problem_lines(result.output, case_dir)[: len(expected)] == expected
