"""A background loop of which one instance per database is active, woken by NOTIFY.

The outbox relay and a service's own workers (e.g. credential issuance) share this shape:
* a dedicated connection LISTENs on ``channel`` and holds a session advisory lock (``lock_key``);
  replicas without the lock stand by and retry it every poll interval, so the work runs once and
  in order per database, and a stand-by takes over within a poll interval when the holder dies;
* ``work_once`` runs until it reports nothing done (or :meth:`caught_up` says a round that did
  some work left nothing behind), then the loop sleeps until a NOTIFY or the poll interval;
  ``idle`` runs on each idle round (housekeeping, metrics), which then sleeps ``idle_seconds``;
  ``stopped`` runs when an active loop stops or loses the database;
* a failing round backs off exponentially (never a tight loop); a lost database reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod

import asyncpg
import structlog

log = structlog.get_logger(__name__)


class LeaderLoop(ABC):
    channel: str
    lock_key: int
    name: str = "worker"

    def __init__(self, dsn: str, *, poll_seconds: float = 1.0, max_backoff_seconds: float = 10.0) -> None:
        self.dsn = dsn
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.active = False
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    @abstractmethod
    async def work_once(self) -> int:
        """Do one round of work; return how much was done (0 = idle). Raise to back off."""

    async def idle(self) -> None:  # noqa: B027 - an optional hook, not an abstract step
        """Called on every idle round while active."""

    def idle_seconds(self) -> float:
        """How long an idle round sleeps unless woken (NOTIFY, :meth:`stop`). Default: the poll interval."""
        return self.poll_seconds

    async def stopped(self) -> None:  # noqa: B027 - an optional hook, not an abstract step
        """Called once the loop has stopped working (on :meth:`stop`, or when it lost the database)."""

    def caught_up(self, done: int) -> bool:
        """Whether a round that did ``done`` units left nothing to do, so the loop may sleep without
        another round to find out. Default: only a round that did nothing. A loop whose rounds take
        at most a batch says a partial batch: work committed meanwhile NOTIFYs it awake again."""
        return done == 0

    @property
    def notified(self) -> asyncio.Event:
        """Set by a NOTIFY (or :meth:`wake`) since the loop last slept. A round may take it (clear
        it) when it starts work that covers what was announced; left set, the loop runs another
        round instead of sleeping."""
        return self._wake

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Run until :meth:`stop`."""
        backoff = 0.2
        while not self.stopping:
            try:
                listener = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning(f"{self.name} cannot reach the database", error=repr(exc))
                await self._pause(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
                continue
            try:
                await listener.add_listener(self.channel, lambda *_: self._wake.set())
                while not self.stopping:
                    if not self.active:
                        self.active = bool(await listener.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key))
                        if not self.active:
                            await self._sleep(self.poll_seconds)  # stand by for the active instance
                            continue
                        log.info(f"{self.name} active")
                    try:
                        done = await self.work_once()
                        backoff = 0.2
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        raise
                    except Exception as exc:
                        log.warning(
                            f"{self.name} round failed; retrying", error=repr(exc), backoff=backoff, exc_info=True
                        )
                        await self._pause(backoff)
                        backoff = min(backoff * 2, self.max_backoff_seconds)
                        continue
                    if self.caught_up(done):
                        await self.idle()
                        await self._sleep(self.idle_seconds())
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning(f"{self.name} lost the database", error=repr(exc))
                await self._pause(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
            finally:
                if self.active:
                    with contextlib.suppress(Exception):
                        await self.stopped()
                self.active = False
                with contextlib.suppress(Exception):
                    await listener.close()

    async def _pause(self, seconds: float) -> None:
        """A backoff: new work (NOTIFY) does not cut it short, only :meth:`stop` does."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()
