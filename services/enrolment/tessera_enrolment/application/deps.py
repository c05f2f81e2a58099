"""What the enrolment handlers share: the clock and the service's settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from tessera_enrolment.adapters import enrolments_sql
from tessera_enrolment.config import EnrolmentSettings
from tessera_enrolment.domain.clock import Clock
from tessera_enrolment.domain.enrolment import Enrolment
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import Append, ConcurrencyError, EventStore

T = TypeVar("T")


@dataclass
class Deps:
    settings: EnrolmentSettings
    clock: Clock


async def in_transaction(pool: asyncpg.Pool, work: Callable[[Conn], Awaitable[T]], *, attempts: int = 5) -> T:
    """Run ``work`` in one transaction; run it again (bounded) when a concurrent command won a race:
    an optimistic-concurrency conflict, a deadlock the database broke, or a serialization failure."""
    for n in range(attempts):
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await work(conn)
        except (ConcurrencyError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            if n == attempts - 1:
                raise
            await asyncio.sleep(0.01 * (2**n))
    raise AssertionError("unreachable")


async def persist(
    conn: Conn,
    store: EventStore,
    aggregates: Sequence[Enrolment],
    *,
    now: datetime,
    diplomas: dict[str, Any] | None = None,
    batch_appends: Sequence[Append] = (),
) -> None:
    """State rows and the events (with their outbox rows), in the caller's transaction: one
    statement when every stream's version is known, i.e. without ``batch_appends``.

    The aggregates were loaded (or created) in this transaction, so their streams' versions are
    known and the store need not read them; a stream appended to since is refused by the event
    store's unique version either way (:class:`ConcurrencyError`)."""
    changed = [a for a in aggregates if a.pending]
    if not changed and not batch_appends:
        return
    columns = enrolments_sql.save_columns(changed, now=now, diplomas=diplomas)  # before the events are taken
    appends = list(batch_appends)
    loaded: dict[str, int] = {}
    for a in changed:
        events = a.take_pending()
        appends.append(Append(a.stream_id, a.expected_version, events))
        loaded[a.stream_id] = a.expected_version
        a.version += len(events)
    if changed and not batch_appends:
        await enrolments_sql.save_with_events(conn, store, columns, appends, loaded)
        return
    if changed:
        await enrolments_sql.save_rows(conn, columns)
    await store.append_many(conn, appends, versions=loaded)
