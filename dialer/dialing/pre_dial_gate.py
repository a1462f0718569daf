"""Asking the campaign's pre-dial hook, just before a lead is dialed: one POST per dial with
its own timeout, on a client of its own (a slow hook holds only the dial that asked it)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx

from dialer import __version__
from dialer.domain.campaign import PreDialHook
from dialer.domain.predial import Failed, HookVerdict, judge


class PreDialGate:
    def __init__(self, hook: PreDialHook) -> None:
        self.hook = hook
        self._client = httpx.AsyncClient(headers={"User-Agent": f"dialer/{__version__}"})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def ask(self, payload: dict[str, Any]) -> HookVerdict:
        """The hook's verdict on one dial; a timeout or a transport fault is `Failed`."""
        seconds = self.hook.timeout.total_seconds()
        try:
            with anyio.fail_after(seconds):
                answer = await self._client.post(self.hook.url, json=payload, timeout=seconds)
        except TimeoutError:
            return Failed(f"the hook did not answer within {seconds:g} s")
        except httpx.HTTPError as exc:
            return Failed(f"the hook could not be reached ({type(exc).__name__})")
        return judge(answer.status_code, answer.content)
