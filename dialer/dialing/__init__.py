"""Dialing: the runner (one campaign in one process: claim, dispatch, settle), the follower
(every placed call followed to its end) and the worker (every campaign, long-running)."""
