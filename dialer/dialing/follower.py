"""Following placed calls to their end.

Batched (the default): one `list-calls` per tick asks Retell which of the calls this process
follows have ended (pages of up to 1,000 ids), every `follow_tick_seconds` (250 ms, scaled by
the speed factor); a call the list reports ended is settled at once from the list item. A
slow `get-call` per call stays as the fallback, so a call is never lost if list-calls lags or
fails: each call is read on its own every `fallback_seconds`, or less often when many calls are
followed (the fallback never takes more than a share of the process's read budget). A call
unreadable for minutes is reported and still followed. Calls that ended without their
analysis are looked at again by a slower pass over recently ended calls.

In a fleet (several processes on one Postgres store), only the process holding the campaign's
following lease reads Retell, for every placed call of the campaign; the others settle their
calls from the ends it wrote to the store (dialer.dialing.fleet_following).

Per call (`follow = "get-call"`, the behaviour before batched following): one `get-call` per
live call, fast right after dialing and around the typical call length, slower in long calls.

Either way a terminal call is handed to the end callback exactly once, whether a read or a
webhook saw it first.
"""

from __future__ import annotations

import anyio
import anyio.abc
import structlog

from dialer.dialing.fleet_following import FleetFollowing
from dialer.dialing.followed import (
    AnalysisCallback,
    EndCallback,
    FollowedCall,
    details_complete,
    pages,
)
from dialer.dialing.options import FollowMode, RunOptions
from dialer.dialing.ports import CallApi
from dialer.domain.calls import TERMINAL_CALL_STATUSES, CallStatus
from dialer.domain.following import plan_tick
from dialer.retell import PhoneCall, RetellBodyError, RetellError
from dialer.store import Attempt

UNREADABLE_WARN_SECONDS = 300.0
FALLBACK_BUDGET_SHARE = 0.4  # of the read budget, at most, for per-call fallback reads
ANALYSIS_WAIT_SECONDS = 600.0  # how long an ended call's analysis is waited for
COST_WAIT_SECONDS = 120.0  # how long the cost of a call that never connected is waited for
DETAILS_WAIT_FLOOR_SECONDS = 30.0  # … and at least this long in real seconds, whatever the speed
SEEN_POLL_SECONDS = 1.0  # in a fleet: ends seen by another process, looked for at least this often
_TERMINAL = sorted(TERMINAL_CALL_STATUSES)


class CallFollower:
    def __init__(
        self,
        client: CallApi,
        options: RunOptions,
        on_end: EndCallback,
        log: structlog.typing.FilteringBoundLogger,
        on_analysis: AnalysisCallback | None = None,
        fleet: FleetFollowing | None = None,
        *,
        hold_for_analysis: bool = False,
    ) -> None:
        self._client = client
        self._options = options
        self._on_end = on_end
        self._on_analysis = on_analysis
        self._log = log
        self._calls: dict[str, FollowedCall] = {}  # by attempt id
        self._wake = anyio.Event()
        self._mean_call_seconds: float | None = None
        self._awaiting_analysis: dict[str, float] = {}  # call id -> give up at (anyio time)
        self._known_ends: list[tuple[FollowedCall, PhoneCall]] = []  # over when placed
        self._batched = options.follow == FollowMode.LIST
        # A campaign whose steps read a call's analysis settles a connected call once its
        # analysis is in (or once it is given up on): call id -> give up at (anyio time)
        self.hold_for_analysis = hold_for_analysis
        self._held: dict[str, float] = {}
        self._fleet = fleet if self._batched else None  # per call: each process its own
        self._plan = plan_tick(shared=self._fleet is not None, holding=False)
        self._seen_wake = anyio.Event()
        self._foreign: dict[str, str] = {}  # a fleet's holder: others' calls (call -> attempt)
        self._list_failing = False  # the client says when it backs off

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, attempt_id: object) -> bool:
        return attempt_id in self._calls

    def attempt_ids(self) -> list[str]:
        return list(self._calls)

    @property
    def awaiting_details(self) -> int:
        """Ended calls whose analysis, cost or recording this process still waits for."""
        return len(self._awaiting_analysis)

    def ends_seen(self) -> None:
        """Another process saw calls of the campaign end: settle ours among them now."""
        self._seen_wake.set()

    def follow(
        self, attempt: Attempt, call: PhoneCall | str, *, read_now: bool = False
    ) -> FollowedCall:
        """Start following a placed call (its id, or the call as its create answered). A call
        already over is settled at once. Per call: first read after the shortest interval (or
        at once, for a call taken over from another worker). In batches: the next tick asks
        about it; its own fallback read comes much later."""
        call_id = call if isinstance(call, str) else call.call_id
        now = anyio.current_time()
        if self._batched:
            first = now + (0.0 if read_now else self._fallback_interval())
        else:
            first = now if read_now else now + self._options.scaled(self._options.poll_min_seconds)
        followed = FollowedCall(attempt, call_id, now, first, now)
        self._calls[attempt.attempt_id] = followed
        if not isinstance(call, str) and call.is_terminal:
            followed.reading = True  # keeps the reads off it: it is settled at once
            self._known_ends.append((followed, call))
        self._wake.set()
        return followed

    async def report(self, call: PhoneCall) -> bool:
        """A webhook told how a call stands. If it is followed here and over, settle it now.
        Returns whether the call is followed here."""
        followed = next((f for f in self._calls.values() if f.call_id == call.call_id), None)
        if followed is None:
            return False
        if call.is_terminal and not followed.reading:  # a read in flight settles it just as well
            followed.reading = True  # keeps the reads off it meanwhile
            try:
                await self._finish(followed, call, "webhook")
            finally:
                followed.reading = False
        return True

    async def _finish(self, followed: FollowedCall, call: PhoneCall, source: str) -> None:
        """The call is terminal: hand it to the end callback, then stop following it (unless
        it waits for its analysis: then it stays followed, and the next read that has the
        analysis settles it)."""
        if self._held_for_analysis(followed, call):
            return
        try:
            await self._on_end(followed, call, source)
        finally:
            self._calls.pop(followed.attempt.attempt_id, None)
        if self._on_analysis and not details_complete(call, with_recording=True):
            # a call that never connected has only its cost to come, if anything: wait less;
            # a simulated clock's minutes can pass in a second: wait some real time too
            connected = call.call_status == CallStatus.ENDED
            wait = ANALYSIS_WAIT_SECONDS if connected else COST_WAIT_SECONDS
            floor = DETAILS_WAIT_FLOOR_SECONDS if connected else DETAILS_WAIT_FLOOR_SECONDS / 3
            self._awaiting_analysis[call.call_id] = anyio.current_time() + max(
                wait / self._options.speed, floor
            )
        seconds = (anyio.current_time() - followed.followed_since) * self._options.speed
        mean = self._mean_call_seconds
        self._mean_call_seconds = seconds if mean is None else 0.9 * mean + 0.1 * seconds

    def _held_for_analysis(self, followed: FollowedCall, call: PhoneCall) -> bool:
        if not self.hold_for_analysis or call.call_status != CallStatus.ENDED or call.call_analysis:
            self._held.pop(call.call_id, None)
            return False
        now = anyio.current_time()
        wait = max(ANALYSIS_WAIT_SECONDS / self._options.speed, DETAILS_WAIT_FLOOR_SECONDS)
        if self._held.setdefault(call.call_id, now + wait) <= now:
            self._held.pop(call.call_id, None)  # given up: settled without it
            return False
        followed.next_read = now + self._options.scaled(self._options.analysis_pass_seconds)
        return True

    async def run(self) -> None:
        """Follow every call until cancelled."""
        try:
            await self._run()
        finally:
            if self._fleet is not None:
                await self._fleet.release()

    async def _run(self) -> None:
        limit = anyio.Semaphore(self._options.poll_concurrency)
        async with anyio.create_task_group() as group:
            if self._batched:
                group.start_soon(self._list_loop, group)
            if self._fleet is not None:
                group.start_soon(self._seen_loop, group)
            if self._on_analysis is not None:  # late analyses come however calls are followed
                group.start_soon(self._analysis_loop)
            while True:
                while self._known_ends:
                    followed, call = self._known_ends.pop()
                    group.start_soon(self._settle, followed, call, "poll")
                now = anyio.current_time()
                soonest = now + 0.25
                for followed in list(self._calls.values()):
                    if followed.reading or not self._plan.fallback_reads:
                        continue
                    if followed.next_read <= now:
                        followed.reading = True
                        group.start_soon(self._read, followed, limit)
                    else:
                        soonest = min(soonest, followed.next_read)
                with anyio.move_on_after(max(0.005, soonest - anyio.current_time())):
                    await self._wake.wait()
                self._wake = anyio.Event()

    # -- batched -----------------------------------------------------------------------------

    async def _list_loop(self, group: anyio.abc.TaskGroup) -> None:
        tick = self._options.scaled(self._options.follow_tick_seconds)
        while True:
            started = anyio.current_time()
            if self._fleet is None:
                await self._list_once(group, {})
            else:  # the store's part of a tick runs beside the list (of what the last one found)
                plan, foreign = self._plan, self._foreign
                async with anyio.create_task_group() as both:
                    both.start_soon(self._refresh_fleet)
                    if plan.list_calls:
                        await self._list_once(group, foreign)
            await anyio.sleep(max(0.0, tick - (anyio.current_time() - started)))

    async def _refresh_fleet(self) -> None:
        """Take or renew the following lease; the holder learns the others' calls."""
        assert self._fleet is not None
        self._plan = plan_tick(shared=True, holding=await self._fleet.hold())
        others = await self._fleet.foreign(set(self._calls)) if self._plan.list_calls else {}
        self._foreign = {call: attempt for attempt, call in others.items()}

    async def _list_once(self, group: anyio.abc.TaskGroup, foreign: dict[str, str]) -> None:
        """One list-calls (a page at a time) for the calls followed here and, in a fleet's
        holder, the other processes' calls, whose ends go to the store for them."""
        ids = [f.call_id for f in self._calls.values() if not f.reading]
        own = set(ids)
        ids += [call_id for call_id in foreign if call_id not in own]
        seen: list[tuple[str, PhoneCall]] = []
        try:
            for page in pages(ids):
                try:
                    ended = await self._client.calls_by_id(page, _TERMINAL)
                except RetellError as exc:  # the per-call fallback carries on meanwhile
                    if not self._list_failing:  # said once per run of failures
                        self._log.info("list_calls_failed", error=str(exc))
                    self._list_failing = True
                    break
                self._list_failing = False
                asked = set(page)
                known = anyio.current_time()
                by_call = {f.call_id: f for f in self._calls.values() if f.call_id in asked}
                for followed in by_call.values():
                    followed.last_read = known  # not listed as ended: still alive
                for call in ended:
                    listed = by_call.get(call.call_id)
                    if listed is not None and call.is_terminal and not listed.reading:
                        listed.reading = True
                        group.start_soon(self._settle, listed, call, "list")
                    elif listed is None and call.is_terminal and call.call_id in foreign:
                        seen.append((foreign[call.call_id], call))
        finally:
            if seen and self._fleet is not None:  # what was seen is written, even when stopping
                with anyio.CancelScope(shield=True):
                    await self._fleet.report(seen)

    async def _seen_loop(self, group: anyio.abc.TaskGroup) -> None:
        """In a fleet: settle this process's calls whose end another process saw, when told
        (a notification) or at the latest every `SEEN_POLL_SECONDS`."""
        assert self._fleet is not None
        while True:
            with anyio.move_on_after(self._options.scaled(SEEN_POLL_SECONDS)):
                await self._seen_wake.wait()
            self._seen_wake = anyio.Event()
            if not self._calls:
                continue
            for attempt_id, call in await self._fleet.seen():
                followed = self._calls.get(attempt_id)
                if followed is not None and call.is_terminal and not followed.reading:
                    followed.reading = True
                    group.start_soon(self._settle, followed, call, "list")

    async def _settle(self, followed: FollowedCall, call: PhoneCall, source: str) -> None:
        try:
            await self._finish(followed, call, source)
        finally:
            followed.reading = False

    def _fallback_interval(self) -> float:
        """Seconds between two fallback reads of one call: `fallback_seconds`, or longer when
        so many calls are followed that their fallback reads would pass their share of the
        read budget."""
        opts = self._options
        share = FALLBACK_BUDGET_SHARE * opts.api_reads_per_second * opts.speed  # real reads/s
        return max(opts.scaled(opts.fallback_seconds), (len(self._calls) + 1) / share)

    async def _analysis_loop(self) -> None:
        """A slow pass over calls that ended without their analysis (Retell adds it minutes
        later): their list items, a page at a time; found analyses go to the callback."""
        assert self._on_analysis is not None
        period = self._options.scaled(self._options.analysis_pass_seconds)
        while True:
            await anyio.sleep(period)
            now = anyio.current_time()
            for call_id, give_up in list(self._awaiting_analysis.items()):
                if give_up < now:
                    del self._awaiting_analysis[call_id]
            for page in pages(list(self._awaiting_analysis)):
                try:
                    calls = await self._client.calls_by_id(page)
                except RetellError as exc:
                    self._log.info("analysis_pass_failed", error=str(exc))
                    break
                for call in calls:
                    if call.call_analysis is not None or call.cost_cents is not None:
                        await self._on_analysis(call)
                    complete = details_complete(call, with_recording=False)
                    if complete and await self._read_what_lists_lack(call):
                        self._awaiting_analysis.pop(call.call_id, None)

    async def _read_what_lists_lack(self, call: PhoneCall) -> bool:
        """List items come without the recording (and the transcript): once a call's analysis
        is in, one get-call reads the rest (within the read budget, like every read). False
        when that read failed (the next pass tries again)."""
        if call.recording_url or call.call_status != CallStatus.ENDED:
            return True  # a call that never connected has no recording
        try:
            full = await self._client.get_call(call.call_id)
        except RetellError as exc:
            self._log.info("recording_read_failed", call=call.call_id, error=str(exc))
            return False
        if full.recording_url and self._on_analysis:  # a call without one stays without
            await self._on_analysis(full)
        return True

    # -- per call -----------------------------------------------------------------------------

    async def _read(self, followed: FollowedCall, limit: anyio.Semaphore) -> None:
        try:
            async with limit:
                try:
                    call = await self._client.get_call(followed.call_id)
                except RetellError as exc:  # transport, status or a body of the wrong shape
                    self._read_failed(followed, exc)
                    return
                except Exception as exc:  # a fault of ours must not end the process either
                    self._log.exception("call_read_crashed", call=followed.call_id)
                    self._read_failed(followed, exc)
                    return
            followed.failures, followed.last_read = 0, anyio.current_time()
            if call.is_terminal:
                await self._finish(followed, call, "poll")
            else:
                followed.next_read = anyio.current_time() + self._interval(followed, call)
        finally:
            followed.reading = False
            self._wake.set()  # its next read may be sooner than the loop's sleep

    def _interval(self, followed: FollowedCall, call: PhoneCall) -> float:
        """Batched: the slow fallback. Per call: fast right after dialing and around the
        expected end; slower in long calls."""
        if self._batched:
            return self._fallback_interval()
        opts = self._options
        elapsed = (anyio.current_time() - followed.followed_since) * opts.speed
        low, high = opts.poll_min_seconds, opts.poll_max_seconds
        if call.call_status == "registered":
            interval = low
        else:
            interval = min(high, max(low, elapsed / 4))
            mean = self._mean_call_seconds
            if mean is not None and 0.8 * mean <= elapsed <= 1.5 * mean:
                interval = low
        return opts.scaled(interval)

    def _read_failed(self, followed: FollowedCall, exc: Exception) -> None:
        followed.failures += 1
        if isinstance(exc, RetellBodyError):
            self._log.warning("call_read_malformed", call=followed.call_id, error=str(exc))
        now = anyio.current_time()
        backoff = min(30.0, 0.5 * 2 ** min(followed.failures, 6))
        if self._batched:
            backoff = max(backoff, self._fallback_interval())
        followed.next_read = now + backoff
        unreadable = now - followed.last_read
        if unreadable > UNREADABLE_WARN_SECONDS and now - followed.warned_at > 60:
            followed.warned_at = now
            self._log.warning(
                "call_unreadable",
                call=followed.call_id,
                attempt=followed.attempt.attempt_id,
                seconds=round(unreadable),
                error=str(exc),
            )
