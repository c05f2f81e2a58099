"""The issuance loop: one active worker per database, woken by NOTIFY, polling as a fallback.

* A kernel ``LeaderLoop`` (like the outbox relay): a session advisory lock on its own listening
  connection; replicas without it stand by and retry the lock every poll interval. Exactly-once does not rest
  on the lock (``issued_credentials.award_id`` is UNIQUE and queue rows are claimed ``FOR UPDATE
  SKIP LOCKED``, the same guarantees that let the active worker run several batches at once); the
  lock keeps the signing CPU of a database in one replica, sized by ``ISSUANCE_PROCESSES``, and
  replicas from racing each other for the same awards (see docs/credential-keys-and-status.md).
* Each round drains the queue with ``pipeline.concurrency`` batches in flight (``ISSUANCE_CONCURRENCY``),
  each in its own transaction, their documents signed in the pipeline's signing processes.
* Wakes on ``LISTEN tessera_issuance`` (a statement trigger on ``issuance_queue``), so a credential
  follows its award within one batch's time; polls every ``poll_seconds`` for retries that come due.
* Each idle round also gives every registered institution a key (so its DID document exists before
  its first credential) and signs any status list whose bits changed but was not signed yet.
"""

from __future__ import annotations

import asyncpg
import structlog

from tessera_credential.issuance.pipeline import IssuancePipeline
from tessera_credential.keys import store as key_store
from tessera_credential.status import credential as status_credential
from tessera_credential.status import lists as status_lists
from tessera_shared.kernel.leader import LeaderLoop

log = structlog.get_logger(__name__)

_ISSUANCE_LOCK = 0x155_0ED  # session advisory lock: one active issuance worker per database
CHANNEL = "tessera_issuance"


class IssuanceWorker(LeaderLoop):
    channel = CHANNEL
    lock_key = _ISSUANCE_LOCK
    name = "issuance worker"

    def __init__(self, pool: asyncpg.Pool, dsn: str, pipeline: IssuancePipeline, *, poll_seconds: float) -> None:
        super().__init__(dsn, poll_seconds=poll_seconds, max_backoff_seconds=30.0)
        self.pool = pool
        self.pipeline = pipeline

    async def work_once(self) -> int:
        return await self.pipeline.drain(self.pool, stop=lambda: self.stopping)

    async def idle(self) -> None:
        """Keys for new institutions; status lists left unsigned (e.g. after a rotation)."""
        pipeline = self.pipeline
        async with self.pool.acquire() as conn, conn.transaction():
            missing = await key_store.institutions_without_key(conn)
            if missing:
                created = await key_store.ensure_keys(conn, pipeline.kek, missing)
                if created:
                    log.info("institution keys created", institutions=created)
        async with self.pool.acquire() as conn, conn.transaction():
            await status_credential.sign_lists(conn, pipeline.kek, pipeline.dids, await status_lists.unsigned(conn))
