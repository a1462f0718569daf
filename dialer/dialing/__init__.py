"""Dialing: the runner (one campaign in one process: claim, dispatch, settle), the follower
(every placed call followed to its end; in a fleet, once between its processes), the calling
gate (which places a claim may take now) and the worker (every campaign, long-running).

They reach the store and Retell's call API only through the Protocols in `ports.py`
(`DialingStore`, `ServingStore`, `PlaceCounts`, `FollowingStore`, `CallApi`), and read time
through anyio (`anyio.current_time()`, `anyio.sleep`, `anyio.move_on_after`) and the wall clock of
`RunOptions.clock`. To test them, give them the in-memory store and call API of `tests/fakes/`
and run on trio's `MockClock(autojump_threshold=0)` (`tests/dialing/`): every sleep jumps the
clock, so a campaign runs in milliseconds; `tests/store/test_port_conformance.py` holds the
fake store to the real one."""
