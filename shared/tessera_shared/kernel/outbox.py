"""Outbox relay: publishes committed outbox rows to JetStream, exactly once per event id.

* Publishes with JetStream acknowledgement and ``Nats-Msg-Id = event id`` (a retry after a lost
  ack is dropped by the stream's duplicate window; consumers' inboxes catch anything older).
* Marks rows published only after their ack; the first failure stops the batch so order holds.
* Pipelines a batch (``publish_async`` writes in order, acks are awaited together).
* Wakes on ``LISTEN tessera_outbox`` with a polling fallback.
* One active relay per service database: the relay holding a session advisory lock publishes, the
  others stand by, so per-stream order holds with several replicas.
* When NATS is down it retries with exponential backoff; nothing is lost because nothing is marked.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import structlog
from nats.js import JetStreamContext

from tessera_shared.contract.topology import subject_for
from tessera_shared.kernel.leader import LeaderLoop
from tessera_shared.kernel.metrics import EVENTS_PUBLISHED, RELAY_LAG, RELAY_LAG_SECONDS

log = structlog.get_logger(__name__)

_RELAY_LOCK = 0x0B7B0C5  # session advisory lock: one active relay per database


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

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were acknowledged."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, event_id, event_type, body FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
                self.batch_size,
            )
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
        async with self.pool.acquire() as conn:
            if acked:
                await conn.execute("UPDATE outbox SET published_at = clock_timestamp() WHERE id = ANY($1)", acked)
            if error is not None:
                failed = rows[len(acked)]["id"]
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1", failed, repr(error)
                )
        EVENTS_PUBLISHED.labels(self.service).inc(len(acked))
        if error is not None:
            raise RelayError(len(acked)) from error
        return len(acked)

    async def drain(self) -> int:
        """Publish until nothing is pending (used by tests and the CLI)."""
        total = 0
        while n := await self.publish_pending():
            total += n
        return total

    async def lag(self) -> tuple[int, float]:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT count(*) AS n,
                          coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS age
                   FROM outbox WHERE published_at IS NULL"""
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
