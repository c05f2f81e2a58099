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
import contextlib
from typing import Any

import asyncpg
import structlog
from nats.js import JetStreamContext

from tessera_shared.contract.topology import subject_for
from tessera_shared.kernel.metrics import EVENTS_PUBLISHED, RELAY_LAG, RELAY_LAG_SECONDS

log = structlog.get_logger(__name__)

_RELAY_LOCK = 0x0B7B0C5  # session advisory lock: one active relay per database


class OutboxRelay:
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
        self.pool = pool
        self.js = js
        self.dsn = dsn
        self.service = service
        self.namespace = namespace
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        self.active = False
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

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

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Run until :meth:`stop`: hold the lock, publish, sleep until NOTIFY or the poll interval."""
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                listener = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("relay cannot reach the database", error=repr(exc))
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            try:
                await listener.add_listener("tessera_outbox", lambda *_: self._wake.set())
                while not self._stopping.is_set():
                    if not self.active:
                        self.active = bool(await listener.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK))
                        if not self.active:
                            await self._sleep(self.poll_seconds)  # stand by for the active relay
                            continue
                        log.info("relay active", service=self.service)
                    try:
                        published = await self.publish_pending()
                        backoff = 0.2
                    except RelayError as exc:
                        log.warning("relay publish failed; retrying", error=repr(exc.__cause__), backoff=backoff)
                        await self._sleep(backoff)
                        backoff = min(backoff * 2, 10)
                        continue
                    if published == 0:
                        await self.lag()
                        await self._sleep(self.poll_seconds)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("relay lost the database", error=repr(exc))
                await self._sleep(backoff)
            finally:
                self.active = False
                with contextlib.suppress(Exception):
                    await listener.close()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()


class RelayError(Exception):
    def __init__(self, published: int) -> None:
        super().__init__(f"publishing stopped after {published} events")
        self.published = published
