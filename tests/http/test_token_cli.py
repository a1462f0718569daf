"""`dialer token create|list|revoke`: a token printed once (alone on standard output, for
scripts), names checked, a duplicate name and an unknown one refused with exit 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dialer.cli import main


def test_tokens_are_made_listed_and_revoked(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"}
    runner = CliRunner()
    made = runner.invoke(main, ["token", "create", "crm"], env=env)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("dlr_") and "\n" not in token
    assert "shown this once" in made.stderr
    reader = runner.invoke(main, ["token", "create", "bi", "--read-only"], env=env)
    assert reader.exit_code == 0
    again = runner.invoke(main, ["token", "create", "crm"], env=env)
    assert again.exit_code == 2 and "exists already" in again.stderr
    bad = runner.invoke(main, ["token", "create", "no spaces"], env=env)
    assert bad.exit_code == 2 and "token name" in bad.stderr
    listed = runner.invoke(main, ["token", "list"], env=env)
    assert listed.exit_code == 0
    assert [line.split("\t")[:2] for line in listed.stdout.splitlines()] == [
        ["bi", "read-only"],
        ["crm", "read-write"],
    ]
    assert token not in listed.output
    revoked = runner.invoke(main, ["token", "revoke", "crm"], env=env)
    assert revoked.exit_code == 0 and "401" in revoked.stdout
    gone = runner.invoke(main, ["token", "revoke", "crm"], env=env)
    assert gone.exit_code == 2 and "no token named 'crm'" in gone.stderr
