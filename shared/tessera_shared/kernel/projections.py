"""Read models built from the service's own event store, checkpointed in the same transaction.

A :class:`Projection` names the tables it owns and applies stored events to them. The runner reads
the global order gap-free (``EventStore.read_all``), applies a batch and advances the checkpoint in
one transaction, so a crash never applies an event twice or skips one. A read that stops at a
position a transaction in flight may still fill is retried every 50 ms (not only on the next
NOTIFY: a rolled-back position never sends one). ``rebuild`` empties the projection's tables, resets its
checkpoint and replays the whole store.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

import asyncpg
import structlog

from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import EventStore, Gap, StoredEvent
from tessera_shared.kernel.metrics import PROJECTION_GAP_WAIT, PROJECTION_POSITION

log = structlog.get_logger(__name__)


class Projection(ABC):
    name: str
    tables: Sequence[str] = ()
    event_types: Sequence[str] | None = None  # None: every event
    # At most one round per this many seconds while the runner runs (0: a round on every commit).
    # For a read model its commands already write in their own transaction, the runner only checks
    # and repairs, so its rounds need not follow every commit (each costs a transaction).
    catch_up_every: float = 0.0

    @abstractmethod
    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        """Update the read model for one event (runs inside the checkpoint's transaction)."""

    async def apply_batch(self, conn: Conn, events: Sequence[StoredEvent]) -> None:
        """Update the read model for a batch of events of ``event_types``, in order, in the
        checkpoint's transaction. Override to look up what the whole batch needs in one query."""
        for event in events:
            await self.apply(conn, event)

    async def reset(self, conn: Conn) -> None:
        for table in self.tables:
            await conn.execute(f"TRUNCATE {table}")


class ProjectionRunner:
    def __init__(
        self,
        store: EventStore,
        projections: Sequence[Projection],
        *,
        dsn: str,
        batch_size: int = 500,
    ):
        self.store = store
        self.projections = list(projections)
        self.dsn = dsn
        self.batch_size = batch_size
        self._gaps: dict[str, Gap] = {}  # per projection: the missing positions it has yet to pass
        self._waiting: dict[str, float] = {}  # projections whose last read stopped at a gap: since when
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    async def catch_up(self, projection: Projection) -> int:
        """Apply everything committed since the checkpoint; returns the number of events applied.

        Returns early, with the projection waiting (run() polls it), when the read stops at a
        position a transaction in flight may still fill."""
        applied = 0
        wanted = set(projection.event_types) if projection.event_types is not None else None
        # While it waits at a gap, a read only needs to see whether the gap moved: one row; and it
        # is not retried at once (run() polls it).
        retried = projection.name in self._waiting
        limit = 1 if retried else self.batch_size
        while True:
            async with self.store.pool.acquire() as conn, conn.transaction():
                position, exists = await self._lock_checkpoint(conn, projection.name)
                page = await self.store.read_all(position, limit, conn=conn, gap=self._gaps.get(projection.name))
                batch = [e for e in page.events if wanted is None or e.event_type in wanted]
                if batch:
                    await projection.apply_batch(conn, batch)
                if page.position != position or not exists:
                    await self._save_checkpoint(conn, projection.name, page.position)
            self._remember(projection.name, page.gap, page.waiting)
            PROJECTION_POSITION.labels(projection.name).set(page.position)
            applied += len(page.events)
            if page.waiting:
                # Stopped where a transaction in flight may still write. A gap just seen is retried
                # once at once: it settles as soon as nothing older than the round that saw it runs
                # (the usual case: a rolled-back append); after that run() polls every 50 ms.
                if retried:
                    return applied
                retried, limit = True, 1
                continue
            if page.fetched < limit:
                # All that was visible is applied; reading again would find nothing but what commits
                # later, and each later commit NOTIFYs the runner (a statement trigger on events).
                return applied
            limit = self.batch_size

    def _remember(self, name: str, gap: Gap | None, waiting: bool) -> None:
        if gap is None:
            self._gaps.pop(name, None)
        else:
            self._gaps[name] = gap
        if waiting:
            since = self._waiting.setdefault(name, time.monotonic())
            PROJECTION_GAP_WAIT.labels(name).set(time.monotonic() - since)
        elif self._waiting.pop(name, None) is not None:
            PROJECTION_GAP_WAIT.labels(name).set(0)

    @staticmethod
    async def _lock_checkpoint(conn: Conn, name: str) -> tuple[int, bool]:
        """The projection's position, and whether its row exists yet, with the projection locked for
        the transaction: two replicas never apply the same batch.

        The lock is a transaction-scoped advisory lock, not ``SELECT … FOR UPDATE``: locking a row
        gives the transaction its id, and ``read_all`` needs a transaction that takes its id only
        after the read's snapshot (eventstore.Gap)."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('tessera-projection:' || $1, 0))", name)
        position: int | None = await conn.fetchval(
            "SELECT position FROM projection_checkpoints WHERE projection = $1", name
        )
        return (position, True) if position is not None else (0, False)

    @staticmethod
    async def _save_checkpoint(conn: Conn, name: str, position: int) -> None:
        await conn.execute(
            """INSERT INTO projection_checkpoints (projection, position) VALUES ($1, $2)
               ON CONFLICT (projection) DO UPDATE SET position = $2, updated_at = clock_timestamp()""",
            name,
            position,
        )

    async def catch_up_all(self) -> int:
        return sum([await self.catch_up(p) for p in self.projections])

    async def rebuild(self, projection: Projection) -> int:
        async with self.store.pool.acquire() as conn, conn.transaction():
            await self._lock_checkpoint(conn, projection.name)  # no round of another replica in between
            await projection.reset(conn)
            await self._save_checkpoint(conn, projection.name, 0)
        self._remember(projection.name, None, waiting=False)
        log.info("projection reset; replaying", projection=projection.name)
        return await self.catch_up(projection)

    def by_name(self, name: str) -> Projection:
        for p in self.projections:
            if p.name == name:
                return p
        raise KeyError(name)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self, poll_seconds: float = 1.0) -> None:
        while not self._stopping.is_set():
            listener = None
            try:
                listener = await asyncpg.connect(self.dsn)
                await listener.add_listener("tessera_events", lambda *_: self._wake.set())
                behind = {p.name for p in self.projections}  # may have events to apply
                due: dict[str, float] = {}  # earliest next round (Projection.catch_up_every)
                while not self._stopping.is_set():
                    now = time.monotonic()
                    for p in self.projections:
                        if p.name in behind and due.get(p.name, 0.0) <= now:
                            behind.discard(p.name)
                            await self.catch_up(p)
                            # A gap's holder may end without a NOTIFY (a rollback): poll every 50 ms
                            # while the projection waits at one.
                            wait = max(p.catch_up_every, 0.05 if p.name in self._waiting else 0.0)
                            due[p.name] = time.monotonic() + wait
                    behind |= self._waiting.keys()
                    timeout = poll_seconds
                    if behind:
                        timeout = min(timeout, max(0.0, min(due.get(n, 0.0) for n in behind) - time.monotonic()))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=timeout)
                    # Read the flag, not wait_for's result: a NOTIFY that lands while a timed-out wait
                    # is being cancelled sets it too, and clearing it unread would lose that commit
                    # for every projection not due (until the next commit or poll).
                    woken = self._wake.is_set()
                    self._wake.clear()
                    if woken or not behind:  # a commit, or the polling fallback
                        behind = {p.name for p in self.projections}
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("projection runner lost the database", error=repr(exc))
                await asyncio.sleep(1.0)
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await listener.close()
