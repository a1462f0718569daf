"""Warnings that do not stop a campaign: `validate` and `load` say them in one line each and
exit 0 (the loading machine may not be the delivering one; a goal may be set before variants)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dialer.cli import main

from ..helpers import numbers, write_campaign

HOOK = {"results_webhook": {"url": "https://crm.example/r", "secret_env": "FIXA_UNSET_SECRET"}}


def test_load_warns_of_the_webhook_s_unset_secret_and_loads(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, numbers(2), extra=HOOK)
    store = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    result = CliRunner().invoke(main, ["load", str(path)], env={"DATABASE_URL": store})
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "FIXA_UNSET_SECRET" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: results_webhook.secret_env")


def test_validate_warns_of_a_goal_without_variants(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, numbers(2), extra={"goal": "call_successful"})
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: warning: goal: has no effect without variants" in result.output
