"""The issuance loop: one active worker per database, woken by NOTIFY, polling as a fallback.

* A kernel ``LeaderLoop`` (like the outbox relay): a session advisory lock on its own listening
  connection; replicas without it stand by and retry the lock every poll interval. Exactly-once does not rest
  on the lock (``issued_credentials.award_id`` is UNIQUE and queue rows are claimed ``FOR UPDATE
  SKIP LOCKED``, the same guarantees that let the active worker run several batches at once); the
  lock keeps the signing CPU of a database in one replica, sized by ``ISSUANCE_PROCESSES``, and
  replicas from racing each other for the same awards (see docs/credential-keys-and-status.md).
* Each round drains the queue with up to ``pipeline.concurrency`` batches in flight
  (``ISSUANCE_CONCURRENCY``; a second starts when a batch comes back full, or when a NOTIFY says
  awards were queued while a batch is signing), each in its own transaction, their documents
  signed in the pipeline's signing processes. A round whose batches
  all came back short of full is caught up: the worker sleeps until the next NOTIFY.
* Wakes on ``LISTEN tessera_issuance`` (a statement trigger on ``issuance_queue``), so a credential
  follows its award within one batch's time; polls every ``poll_seconds`` for retries that come due.
* Idle rounds also give every registered institution a key (so its DID document exists before
  its first credential) and sign any status list whose bits changed but was not signed yet; one
  read tells whether either has anything to do. Under a trickle of awards every batch ends in an
  idle round, so that read runs at most once per poll interval, not once per credential.
"""

from __future__ import annotations

import time

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
_UNSIGNED_PER_ROUND = 50  # status lists an idle round signs at most


class IssuanceWorker(LeaderLoop):
    channel = CHANNEL
    lock_key = _ISSUANCE_LOCK
    name = "issuance worker"

    def __init__(self, pool: asyncpg.Pool, dsn: str, pipeline: IssuancePipeline, *, poll_seconds: float) -> None:
        super().__init__(dsn, poll_seconds=poll_seconds, max_backoff_seconds=30.0)
        self.pool = pool
        self.pipeline = pipeline
        self._caught_up = False
        self._housekept_at = -float("inf")

    async def work_once(self) -> int:
        drained = await self.pipeline.drain_round(self.pool, stop=lambda: self.stopping, queued=self.notified)
        self._caught_up = drained.caught_up
        return drained.claimed

    def caught_up(self, done: int) -> bool:
        """A round whose batches all came back short of full left nothing to claim: sleep until the
        next NOTIFY (or poll) instead of a round that only finds that out."""
        return done == 0 or self._caught_up

    async def idle(self) -> None:
        """:meth:`housekeeping`, at most once per poll interval."""
        now = time.monotonic()
        if now - self._housekept_at >= self.poll_seconds:
            self._housekept_at = now
            await self.housekeeping()

    async def housekeeping(self) -> None:
        """Keys for new institutions; status lists left unsigned (e.g. after a rotation). One read
        finds out whether there is anything to do; the work, if any, in transactions of its own."""
        pipeline = self.pipeline
        async with self.pool.acquire() as conn:
            todo = await conn.fetchrow(
                f"""SELECT ARRAY({key_store.INSTITUTIONS_WITHOUT_KEY}) AS missing,
                           ARRAY({status_lists.UNSIGNED}) AS unsigned""",
                _UNSIGNED_PER_ROUND,
            )
        assert todo is not None
        if todo["missing"]:
            async with self.pool.acquire() as conn, conn.transaction():
                created = await key_store.ensure_keys(conn, pipeline.kek, list(todo["missing"]))
            if created:
                log.info("institution keys created", institutions=created)
        if todo["unsigned"]:
            async with self.pool.acquire() as conn, conn.transaction():
                await status_credential.sign_lists(conn, pipeline.kek, pipeline.dids, list(todo["unsigned"]))
