"""A transaction Postgres rolls back in favour of another (deadlock 40P01, serialization failure
40001) is run again, never fatal."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import text

from dialer.store import Store, is_transient_conflict
from dialer.store.availability import Availability

pytestmark = pytest.mark.anyio


class _ConflictError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


async def _never_down() -> None:
    return None


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_a_verb_rolled_back_for_another_runs_again(sqlstate: str) -> None:
    availability = Availability(_never_down, "test", 10)
    tries: list[int] = []

    async def verb() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise _ConflictError(sqlstate)
        return "done"

    assert await availability.run(verb) == "done"
    assert len(tries) == 3


async def test_other_failures_are_not_retried() -> None:
    availability = Availability(_never_down, "test", 10)

    async def verb() -> None:
        raise _ConflictError("23505")  # a unique violation is an answer, not a conflict

    with pytest.raises(_ConflictError):
        await availability.run(verb)


async def test_a_real_deadlock_is_recognized(store: Store) -> None:
    """Two transactions taking two rows in opposite orders: Postgres ends one with 40P01."""
    if not store.is_postgres:
        pytest.skip("SQLite serializes every writer: it has no deadlocks")
    async with store.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE pair (id int primary key, n int)"))
        await conn.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
    failures: list[BaseException] = []
    both_hold_one = anyio.Event()
    holding = 0

    async def take(first: int, second: int) -> None:
        nonlocal holding
        try:
            async with store.engine.begin() as conn:
                await conn.execute(text(f"UPDATE pair SET n = n + 1 WHERE id = {first}"))
                holding += 1
                if holding == 2:
                    both_hold_one.set()
                await both_hold_one.wait()
                await conn.execute(text(f"UPDATE pair SET n = n + 1 WHERE id = {second}"))
        except Exception as exc:
            failures.append(exc)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(take, 1, 2)
            group.start_soon(take, 2, 1)
    assert len(failures) == 1
    assert is_transient_conflict(failures[0])
