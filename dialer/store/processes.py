"""Which processes serve campaigns: each `dialer run` and `dialer worker` renews a heartbeat
row while it lives and removes it when it stops, so `dialer resume` can say whether anyone
will dial (a process killed outright leaves a row whose heartbeat goes stale)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from dialer.store.availability import rides_out_outages
from dialer.store.base import StoreBase
from dialer.store.schema import processes

RUN, WORKER = "run", "worker"


@dataclass(frozen=True)
class ServingProcess:
    worker_id: str
    kind: str  # run | worker


class ProcessQueries(StoreBase):
    @rides_out_outages
    async def heartbeat(self, worker_id: str, kind: str, campaign_id: int | None = None) -> None:
        """This process is alive (and, for a run, serves `campaign_id`)."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            stmt = self._insert(processes).values(
                worker_id=worker_id,
                kind=kind,
                campaign_id=campaign_id,
                started_at=now,
                heartbeat_at=now,
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[processes.c.worker_id], set_={"heartbeat_at": now}
                )
            )

    async def process_gone(self, worker_id: str) -> None:
        """This process stops: it serves nothing any more."""
        async with self.transaction() as conn:
            await conn.execute(processes.delete().where(processes.c.worker_id == worker_id))

    @rides_out_outages
    async def serving(self, campaign_id: int, within: timedelta) -> list[ServingProcess]:
        """The live processes that serve the campaign: its `dialer run`s and every worker
        (a worker serves every active campaign), heard from within `within`."""
        async with self.engine.connect() as conn:
            since = await self.now(conn) - within
            rows = await conn.execute(
                select(processes.c.worker_id, processes.c.kind)
                .where(processes.c.heartbeat_at > since)
                .where(or_(processes.c.kind == WORKER, processes.c.campaign_id == campaign_id))
                .order_by(processes.c.kind, processes.c.worker_id)
            )
            return [ServingProcess(r.worker_id, r.kind) for r in rows]
