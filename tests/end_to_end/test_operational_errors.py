"""Failures a user must fix end a command with one line and exit 1, the store intact: the
database unreachable at start, a store without its migrations (or from a newer dialer), a full
disk, a read-only store, Retell unreachable at start, a read command pointed at no store. A
traceback only with --debug. And what must not be an error: a closed pipe."""

from __future__ import annotations

import json
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


def _dialer(
    *args: str, url: str, debug: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {**os.environ, "DATABASE_URL": url, "RETELL_API_KEY": "sim-key"}
    for variable in ("DIALER_DEBUG", "DIALER_CLOCK_START", "RETELL_BASE_URL"):
        base.pop(variable, None)
    env = {**base, **(env or {})}
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


# -- errors a person can act on (issue #20) ----------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _attempt_count(url: str) -> int:
    from sqlalchemy import func, select

    from dialer.store import open_store
    from dialer.store.schema import attempts

    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(attempts))).scalar_one()
            )
    finally:
        await store.close()


async def test_retell_unreachable_at_start_is_one_line_and_spends_nothing(
    store_url: str, tmp_path: Path
) -> None:
    """A RETELL_BASE_URL pointing at nothing used to show `0/30 active 1/4` forever and count
    every lead `not_placed`; now: one line naming the URL and the cause, exit 1, no attempt."""
    path = write_campaign(tmp_path, numbers(30), cps=20, cap=4)
    nowhere = f"http://127.0.0.1:{_free_port()}"
    run = ("run", str(path), "--log-format", "console", "--no-progress")
    env = {"RETELL_BASE_URL": nowhere, "RETELL_API_KEY": "key-not-to-be-shown"}
    result = _dialer(*run, url=store_url, env=env)
    line = _one_line(result)
    assert line == f"cannot reach Retell at {nowhere}: connection refused", line
    assert "key-not-to-be-shown" not in result.stderr
    assert await _attempt_count(store_url) == 0

    # TLS to something that does not speak it, and a name that does not resolve
    from dialer.simulator import SimulatedRetell, run_simulator_in_thread

    with run_simulator_in_thread(SimulatedRetell()) as server:
        tls = server.url.replace("http://", "https://")
        line = _one_line(_dialer(*run, url=store_url, env={**env, "RETELL_BASE_URL": tls}))
    assert line.startswith(f"cannot reach Retell at {tls}: TLS failed"), line
    dns = {**env, "RETELL_BASE_URL": "http://retell.invalid"}
    line = _one_line(_dialer(*run, url=store_url, env=dns))
    assert line.startswith("cannot reach Retell at http://retell.invalid: DNS lookup failed"), line
    assert await _attempt_count(store_url) == 0


async def test_a_store_from_a_newer_dialer_is_one_line(store_url: str) -> None:
    """A store migrated by a newer dialer used to end `status` (and `run`) with a raw alembic
    traceback: "Can't locate revision"."""
    from sqlalchemy import text

    from dialer.store.connection import create_engine

    engine = create_engine(store_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    finally:
        await engine.dispose()
    for command in (("status",), ("db", "upgrade")):
        line = _one_line(_dialer(*command, url=store_url))
        assert line.startswith("this store was written by a newer dialer ("), line
        assert "0099_future" in line and "upgrade dialer" in line


def test_a_shifted_clock_is_said_at_start(tmp_path: Path) -> None:
    """DIALER_CLOCK_START left in an environment used to shift calling hours silently."""
    path = write_campaign(tmp_path, numbers(2))
    env = {"DIALER_CLOCK_START": "2027-03-02T15:00:00Z"}
    url = f"sqlite+aiosqlite:///{tmp_path / 'clock.db'}"
    checked = _dialer("validate", str(path), url=url, env=env)
    assert checked.returncode == 0, checked.stderr
    warning = (
        "warning: DIALER_CLOCK_START is set: calling hours are judged as if it were 2027-03-02"
    )
    assert checked.stderr.startswith(warning), checked.stderr
    ran = _dialer("run", str(path), "--simulate", "--log-format", "json", url=url, env=env)
    assert ran.returncode == 0, ran.stderr
    first = json.loads(ran.stderr.splitlines()[0])
    assert first["event"] == "clock_shifted" and first["level"] == "warning"
    assert "2027-03-02" in first["note"]
    quiet = _dialer("validate", str(path), url=url)
    assert "DIALER_CLOCK_START" not in quiet.stderr


@pytest.mark.parametrize("command", [("status",), ("export", "x"), ("report", "x")])
def test_read_commands_never_create_a_store(tmp_path: Path, command: tuple[str, ...]) -> None:
    """`dialer status` in a folder without a store used to create an empty dialer.db and print
    nothing."""
    env = {**os.environ, "RETELL_API_KEY": "sim-key"}
    env.pop("DATABASE_URL", None)
    env.pop("DIALER_CLOCK_START", None)
    result = subprocess.run(
        [sys.executable, "-m", "dialer", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    expected = (
        f"no store at {tmp_path.resolve() / 'dialer.db'} (set DATABASE_URL or run from the "
        "folder you ran `dialer run` in)"
    )
    assert _one_line(result) == expected
    assert list(tmp_path.iterdir()) == []


async def test_no_campaign_names_the_store_it_looked_in(store_url: str, tmp_path: Path) -> None:
    """`dialer report NAME` used to say "no campaign" without naming the store it read."""
    from sqlalchemy.engine import make_url

    from dialer.store.connection import sqlite_file

    file = sqlite_file(store_url)
    if file is None:  # Postgres, with a password that must not be shown (trust auth ignores it)
        url = make_url(store_url).set(password="hunter2").render_as_string(hide_password=False)
        where = make_url(url).render_as_string(hide_password=True)
    else:
        url, where = store_url, str(file)
    for command in (("report", "nope"), ("export", "nope"), ("status", "nope")):
        result = _dialer(*command, url=url)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == f"no campaign named 'nope' in the store at {where}"
        assert "hunter2" not in result.stderr


async def test_a_closed_pipe_ends_read_commands_quietly(store_url: str, tmp_path: Path) -> None:
    """`dialer export … | head -1` used to say "cannot reach the database … is it running?"
    (it was a broken pipe); now, like a Unix tool, it stops quietly (141: 128 + SIGPIPE)."""
    from dialer.inputs.campaign_file import read_campaign_file
    from dialer.operations.loading import import_campaign
    from dialer.store import open_store

    store = await open_store(store_url)
    try:
        path = write_campaign(tmp_path, numbers(3000), name="piped")
        await import_campaign(store, read_campaign_file(path))
    finally:
        await store.close()
    env = {**os.environ, "DATABASE_URL": store_url}
    env.pop("DIALER_CLOCK_START", None)
    dialer = f"{sys.executable} -m dialer"
    shell = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {dialer} export piped | head -1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shell.stdout.startswith("lead_id,to_number,state"), shell.stdout
    assert (shell.returncode, shell.stderr) == (141, "")

    for command in (("export", "piped", "--format", "jsonl"), ("status",), ("status", "--json")):
        reader_gone = subprocess.Popen(
            [sys.executable, "-m", "dialer", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert reader_gone.stdout is not None and reader_gone.stderr is not None
        reader_gone.stdout.close()  # the reader went away before the first line
        errors = reader_gone.stderr.read().decode()
        assert (reader_gone.wait(60), errors) == (141, ""), command


def test_the_usual_database_url_forms_are_read_and_others_are_one_line(tmp_path: Path) -> None:
    """`postgresql://…` (libpq's form, as compose files write it) and `sqlite:///…` are read
    with the drivers dialer ships; a store it cannot open is one line naming what to write."""
    store_file = tmp_path / "plain.db"
    made = _dialer("db", "upgrade", url=f"sqlite:///{store_file}")
    assert made.returncode == 0, made.stderr
    assert store_file.exists()
    for url in ("mysql://root:secret@db/dialer", "garbage"):
        line = _one_line(_dialer("status", url=url))
        assert line.startswith("DATABASE_URL ") and "postgresql+asyncpg://" in line, line
        assert "secret" not in line
