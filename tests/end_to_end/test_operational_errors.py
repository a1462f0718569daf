"""Failures a user must fix end a command with one line and exit 1, the store intact: the
database unreachable at start, a store without its migrations, a full disk, a read-only
store. A traceback only with --debug."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import _admin, _pg_reason, _sqlalchemy_url
from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.anyio


def _dialer(*args: str, url: str, debug: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "RETELL_API_KEY": "sim-key"}
    env.pop("DIALER_DEBUG", None)
    if debug:
        env["DIALER_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "dialer", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_an_unreachable_database_at_start_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres:secret@127.0.0.1:1/nowhere"
    line = _one_line(_dialer("status", url=url))
    assert "cannot reach the database at postgresql+asyncpg://postgres:***@127.0.0.1:1" in line
    assert "secret" not in line
    path = write_campaign(tmp_path, numbers(3))
    line = _one_line(_dialer("run", str(path), "--log-format", "console", url=url))
    assert "cannot reach the database" in line
    debug = _dialer("status", url=url, debug=True)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


async def test_a_store_without_its_migrations_is_one_line(tmp_path: Path) -> None:
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    name = f"dialer_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        path = write_campaign(tmp_path, numbers(3))
        result = _dialer("run", str(path), "--log-format", "console", url=_sqlalchemy_url(name))
        assert "run `dialer db upgrade`" in _one_line(result)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 400 kB file system of its own (root only: it is a tmpfs mount)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    folder = Path(f"/tmp/dialer-small-disk-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def _intact(store_file: Path) -> None:
    with sqlite3.connect(store_file) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_full_disk_and_a_read_only_store_are_one_line(small_disk: Path, tmp_path: Path) -> None:
    store_file = small_disk / "dialer.db"
    url = f"sqlite+aiosqlite:///{store_file}"
    path = write_campaign(tmp_path, numbers(4000), name="big")
    run = ("run", str(path), "--simulate", "--log-format", "console", "--no-progress")
    line = _one_line(_dialer(*run, url=url))
    assert line.startswith("the store's disk is full"), line
    _intact(store_file)

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    small = write_campaign(tmp_path, numbers(5), name="small")
    assert _dialer("run", str(small), "--simulate", "--no-progress", url=url).returncode == 0

    # the same store opened read-only (as a read-only volume would give it)
    read_only = f"sqlite+aiosqlite:///file:{store_file}?mode=ro&uri=true"
    line = _one_line(_dialer(*run, url=read_only))
    assert line.startswith("the store is read-only"), line
    _intact(store_file)
