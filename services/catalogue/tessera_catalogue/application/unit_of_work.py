"""One transaction per command: load -> decide -> append, retried when a concurrent append won.

Everything a command writes (its events and their outbox rows) commits together or not at all.
A client's expected version (``expected_version`` in the body or ``If-Match``) is checked against
the stream as loaded *in* the transaction: a stale one is a 409, never retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg

from tessera_catalogue.application.repository import Repository
from tessera_catalogue.domain.volume import VolumeRules
from tessera_shared.kernel.aggregate import Aggregate, Conflict
from tessera_shared.kernel.eventstore import EventStore, retry_on_conflict

T = TypeVar("T")


@dataclass
class UnitOfWork:
    pool: asyncpg.Pool
    store: EventStore
    rules: VolumeRules = field(default_factory=VolumeRules)

    async def run(self, work: Callable[[Repository], Awaitable[T]]) -> T:
        """Run a command in its own transaction, again from the start if the stream moved on."""

        async def attempt() -> T:
            async with self.pool.acquire() as conn, conn.transaction():
                return await work(Repository(self.store, conn))

        return await retry_on_conflict(attempt)

    async def read(self, work: Callable[[Repository], Awaitable[T]]) -> T:
        """Read several streams as of one snapshot (no writes)."""
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            return await work(Repository(self.store, conn))


def expect(aggregate: Aggregate, expected_version: int | None, what: str) -> None:
    """Refuse a command decided on a stale view of ``aggregate`` (409). A stream that does not exist
    yet is left to the domain (which reports it as not found)."""
    if expected_version is not None and aggregate.version and expected_version != aggregate.version:
        raise Conflict(
            f"{what} is at version {aggregate.version}, not {expected_version}: reload it and try again",
            field="expected_version",
        )
