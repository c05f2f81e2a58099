"""The issuance loop: one active worker per database, woken by NOTIFY, polling as a fallback.

* Holds a session advisory lock on its own listening connection; replicas without it stand by and
  retry the lock every poll interval (like the kernel's outbox relay). Exactly-once does not rest
  on the lock (``issued_credentials.award_id`` is UNIQUE and queue rows are claimed ``FOR UPDATE
  SKIP LOCKED``); the lock keeps replicas from signing the same batch twice for nothing.
* Wakes on ``LISTEN tessera_issuance`` (a statement trigger on ``issuance_queue``), so a credential
  follows its award within one batch's time; polls every ``poll_seconds`` for retries that come due.
* Each idle round also gives every registered institution a key (so its DID document exists before
  its first credential) and signs any status list whose bits changed but was not signed yet.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from tessera_credential.issuance.pipeline import IssuancePipeline
from tessera_credential.keys import store as key_store
from tessera_credential.status import credential as status_credential
from tessera_credential.status import lists as status_lists

log = structlog.get_logger(__name__)

_ISSUANCE_LOCK = 0x155_0ED  # session advisory lock: one active issuance worker per database
CHANNEL = "tessera_issuance"


class IssuanceWorker:
    def __init__(self, pool: asyncpg.Pool, dsn: str, pipeline: IssuancePipeline, *, poll_seconds: float) -> None:
        self.pool = pool
        self.dsn = dsn
        self.pipeline = pipeline
        self.poll_seconds = poll_seconds
        self.active = False
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wake(self) -> None:
        self._wake.set()

    async def housekeeping(self) -> None:
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

    async def run(self) -> None:
        backoff = 0.2
        while not self.stopping:
            try:
                listener = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("issuance worker cannot reach the database", error=repr(exc))
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            try:
                await listener.add_listener(CHANNEL, lambda *_: self._wake.set())
                while not self.stopping:
                    if not self.active:
                        self.active = bool(await listener.fetchval("SELECT pg_try_advisory_lock($1)", _ISSUANCE_LOCK))
                        if not self.active:
                            await self._sleep(self.poll_seconds)
                            continue
                        log.info("issuance worker active")
                    try:
                        handled = await self.pipeline.run_once(self.pool)
                        if handled == 0:
                            await self.housekeeping()
                        backoff = 0.2
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        raise
                    except Exception as exc:  # a bug or a bad key: keep the service up, say so, retry later
                        log.exception("issuance round failed", error=repr(exc))
                        await self._sleep(backoff)
                        backoff = min(backoff * 2, 30)
                        continue
                    if handled == 0:
                        await self._sleep(self.poll_seconds)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("issuance worker lost the database", error=repr(exc))
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10)
            finally:
                self.active = False
                with contextlib.suppress(Exception):
                    await listener.close()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()
