"""Outbox relay: publishes committed outbox rows to JetStream, exactly once per event id.

* Publishes with JetStream acknowledgement and ``Nats-Msg-Id = event id`` (a retry after a lost
  ack is dropped by the stream's duplicate window; consumers' inboxes catch anything older).
* Marks rows published only after their ack; the first failure stops the batch so order holds.
* Marks them with its next read of the pending rows, in one statement (:data:`_MARK_AND_READ`),
  or after :data:`MARK_DELAY` without new rows, on stop, and at once after a failure: under a
  trickle of events each event cost a read and a mark, now one statement. An acked row not yet
  marked when the process dies is published again by the next relay: JetStream's duplicate
  window drops it (``Nats-Msg-Id``), the consumers' inboxes anything older — as for a lost ack.
  ``published_at`` is the relay's clock at the ack, not the database's (one host: the same).
* Pipelines a batch (``publish_async`` writes in order, acks are awaited together).
* Wakes on ``LISTEN tessera_outbox`` with a polling fallback.
* One active relay per service database: the relay holding a session advisory lock publishes, the
  others stand by, so per-stream order holds with several replicas.
* When NATS is down it retries with exponential backoff; nothing is lost because nothing is marked.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from nats.js import JetStreamContext

from tessera_shared.contract.topology import subject_for
from tessera_shared.kernel.leader import LeaderLoop
from tessera_shared.kernel.metrics import EVENTS_PUBLISHED, RELAY_LAG, RELAY_LAG_SECONDS

log = structlog.get_logger(__name__)

_RELAY_LOCK = 0x0B7B0C5  # session advisory lock: one active relay per database
MARK_DELAY = 0.05  # seconds an acked batch waits for the next read to be marked with it
_READ = "SELECT id, event_id, event_type, body FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1"
# The statement's snapshot precedes its update: the rows it marks are still pending to its read,
# which leaves them out by id.
_MARK_AND_READ = """WITH marked AS (UPDATE outbox SET published_at = $3 WHERE id = ANY($2) RETURNING id)
    SELECT id, event_id, event_type, body FROM outbox
    WHERE published_at IS NULL AND NOT (id = ANY($2)) ORDER BY id LIMIT $1"""
_MARK = "UPDATE outbox SET published_at = $2 WHERE id = ANY($1)"


class OutboxRelay(LeaderLoop):
    channel = "tessera_outbox"
    lock_key = _RELAY_LOCK
    name = "relay"

    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        dsn: str,
        service: str,
        namespace: str = "",
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        publish_timeout: float = 5.0,
    ) -> None:
        super().__init__(dsn, poll_seconds=poll_seconds)
        self.pool = pool
        self.js = js
        self.service = service
        self.namespace = namespace
        self.batch_size = batch_size
        self.publish_timeout = publish_timeout
        self._lag_measured_at = -float("inf")
        self._unmarked: list[int] = []  # acked, to be marked published with the next read
        self._acked_at = datetime.now(UTC)

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were acknowledged (marked published
        with the next read, :meth:`flush` or a failure)."""
        async with self.pool.acquire() as conn:
            if self._unmarked:
                rows = await conn.fetch(_MARK_AND_READ, self.batch_size, self._unmarked, self._acked_at)
                self._unmarked = []
            else:
                rows = await conn.fetch(_READ, self.batch_size)
        if not rows:
            return 0
        acked: list[int] = []
        error: BaseException | None = None
        futures: list[asyncio.Future[Any]] = []
        try:
            for r in rows:
                futures.append(
                    await self.js.publish_async(
                        subject_for(r["event_type"], self.namespace),
                        bytes(r["body"]),
                        headers={"Nats-Msg-Id": str(r["event_id"])},
                    )
                )
        except Exception as exc:  # the connection refused more writes: publish what was written
            error = exc
        if futures:
            # publish_async futures never time out by themselves (a write buffered during a
            # reconnect waits forever): bound the wait, then cancel what is still open.
            await asyncio.wait(futures, timeout=self.publish_timeout)
            for r, fut in zip(rows, futures, strict=False):
                if not fut.done():
                    error = error or TimeoutError("no JetStream ack within the publish timeout")
                    break
                failure = fut.exception()
                if failure is not None:
                    error = error or failure
                    break
                acked.append(r["id"])
            for fut in futures:
                fut.cancel()
        self._unmarked, self._acked_at = acked, datetime.now(UTC)
        EVENTS_PUBLISHED.labels(self.service).inc(len(acked))
        if error is not None:
            await self.flush()
            async with self.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                    rows[len(acked)]["id"],
                    repr(error),
                )
            raise RelayError(len(acked)) from error
        return len(acked)

    async def flush(self) -> None:
        """Mark the acked rows not marked yet."""
        if self._unmarked:
            async with self.pool.acquire() as conn:
                await conn.execute(_MARK, self._unmarked, self._acked_at)
            self._unmarked = []

    async def drain(self) -> int:
        """Publish until nothing is pending, everything marked (used by tests and the CLI)."""
        total = 0
        while n := await self.publish_pending():
            total += n
        await self.flush()
        return total

    async def lag(self) -> tuple[int, float]:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(  # acked rows not marked yet are published: not lag
                """SELECT count(*) AS n,
                          coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS age
                   FROM outbox WHERE published_at IS NULL AND NOT (id = ANY($1))""",
                self._unmarked,
            )
        assert row is not None
        RELAY_LAG.labels(self.service).set(row["n"])
        RELAY_LAG_SECONDS.labels(self.service).set(float(row["age"]))
        return int(row["n"]), float(row["age"])

    async def work_once(self) -> int:
        return await self.publish_pending()

    def caught_up(self, done: int) -> bool:
        # A partial batch was all that was pending: under a trickle of events the next SELECT would
        # find nothing, and each later commit NOTIFYs the relay (a statement trigger on the outbox).
        return done < self.batch_size

    def idle_seconds(self) -> float:
        # An acked batch is marked by the next round: soon, if no new row wakes the relay first.
        return MARK_DELAY if self._unmarked else self.poll_seconds

    async def stopped(self) -> None:
        await self.flush()

    async def idle(self) -> None:
        # An idle round follows every published batch under a trickle: the lag gauges (a scan of
        # the pending rows) are refreshed at most once per poll interval, not once per event.
        now = time.monotonic()
        if now - self._lag_measured_at >= self.poll_seconds:
            self._lag_measured_at = now
            await self.lag()


class RelayError(Exception):
    def __init__(self, published: int) -> None:
        super().__init__(f"publishing stopped after {published} events")
        self.published = published
